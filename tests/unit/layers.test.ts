// The layers point one way (README, Layout): no folder of src/ imports one that imports it back,
// src/host imports nothing of the project, src/ref (the CPU spec) is for tests only, and the
// adapters (worker, cli, ui) are imported by nothing below them.
import { readdirSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../src/', import.meta.url).pathname;

/** folder -> the folders of src/ its files import (relative imports only). */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  for (const file of walk(SRC)) {
    const rel = file.slice(SRC.length).split('/');
    if (rel.length < 2) continue; // src/main.ts, the page entry
    const from = rel[0]!;
    const deps = graph.get(from) ?? new Set<string>();
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g)) {
      const target = normalize(join(file, '..', m[1]!)).slice(SRC.length).split('/');
      if (target.length > 1 && target[0] !== from) deps.add(target[0]!);
    }
    graph.set(from, deps);
  }
  return graph;
}

describe('layers', () => {
  const graph = folderGraph();

  it('no folder imports a folder that imports it back', () => {
    const mutual = [...graph].flatMap(([a, deps]) => [...deps].filter((b) => graph.get(b)?.has(a) && a < b).map((b) => `${a} <-> ${b}`));
    expect(mutual).toEqual([]);
  });

  it('host is a leaf, ref is the tests\' spec, and the adapters sit on top', () => {
    expect([...graph.get('host')!]).toEqual([]);
    expect([...graph].filter(([, deps]) => deps.has('ref')).map(([a]) => a)).toEqual([]);
    for (const adapter of ['worker', 'cli']) {
      expect(graph.get(adapter)!.has('app')).toBe(true);
      expect([...graph].filter(([a, deps]) => deps.has(adapter) && a !== 'ui').map(([a]) => a)).toEqual([]);
    }
    expect([...graph].filter(([, deps]) => deps.has('app')).map(([a]) => a).sort()).toEqual(['cli', 'ui', 'worker']);
  });
});
