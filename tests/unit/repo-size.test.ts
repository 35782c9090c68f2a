// The repository stays light: every tracked file together under 40 MB (the bundled models and data
// included), so a clone is quick and a run on a lent GPU machine (64 MiB per call) carries the whole
// checkout. Training states live outside the working tree (bench/recipes.sh restores them from git).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const LIMIT = 40 * 2 ** 20;

describe('the repository', () => {
  it('tracks under 40 MB of files', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean);
    const sizes = files.map((f) => ({ f, bytes: statSync(f, { throwIfNoEntry: false })?.size ?? 0 }));
    const total = sizes.reduce((s, x) => s + x.bytes, 0);
    const largest = sizes.sort((a, b) => b.bytes - a.bytes).slice(0, 5).map((x) => `${x.f} ${(x.bytes / 2 ** 20).toFixed(1)} MB`);
    expect(total, `tracked files: ${(total / 2 ** 20).toFixed(1)} MB; largest: ${largest.join(', ')}`).toBeLessThan(LIMIT);
  });
});
