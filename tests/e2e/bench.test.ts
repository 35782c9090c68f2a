// The benchmark page runs (npm run bench): once, on the tiny model at batch 1, both sides (this
// engine and ONNX Runtime Web's WebGPU execution provider) produce eps in one Chromium page under
// the bench page's own Content-Security-Policy, and agree. A CSP or loader change that breaks either
// side fails here, not silently in a benchmark nobody ran.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

interface Row { model: string; batch: number; ours_ms: number | null; ort_ms: number | null; max_abs_diff: number | null; max_abs_ref: number; errors: string[] }

describe('the benchmark page', () => {
  it('runs both sides on the tiny model and they agree on eps', { timeout: 300_000 }, async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'ddim-bench-')), 'bench.json');
    const run = await promisify(execFile)('npx', ['tsx', 'bench/run.mjs', '--models', 'tiny', '--batches', '1', '--iters', '1', '--warmup', '0', '--json', json], { timeout: 280_000 })
      .catch((e: { stdout: string; stderr: string; code: number }) => e);
    expect(run.stdout, run.stderr).not.toMatch(/Content Security Policy|page error|Refused to/);
    const { rows } = JSON.parse(readFileSync(json, 'utf8')) as { rows: Row[] };
    expect(rows).toHaveLength(1);
    const [row] = rows as [Row];
    expect(row.errors).toEqual([]);
    expect(row.ours_ms).toBeGreaterThan(0);
    expect(row.ort_ms).toBeGreaterThan(0);
    expect(row.max_abs_diff!).toBeLessThanOrEqual(1e-3 * Math.max(1, row.max_abs_ref));
  });
});
