// Shared by the tests that check against the PyTorch goldens in shared/reference (see its README
// for the files and the tolerance contract).

import { readFileSync } from 'node:fs';
import { parseSafetensors } from '../../src/io/safetensors';
import type { HostTensor, SafetensorsFile } from '../../src/host/tensor';

const cache = new Map<string, SafetensorsFile>();

/** Parses `shared/reference/<file>` (beside the repository), once per test file. */
export function loadReference(file: string): SafetensorsFile {
  let parsed = cache.get(file);
  if (parsed === undefined) {
    const bytes = readFileSync(new URL('../../../shared/reference/' + file, import.meta.url));
    parsed = parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
    cache.set(file, parsed);
  }
  return parsed;
}

const SHOWN_MISMATCHES = 5;

/**
 * Asserts |got - ref| <= atol + rtol * |ref| elementwise (NaN never passes). On failure the error
 * names `what`, counts the mismatches, gives the worst error and lists the first few with indices.
 */
/**
 * Sample `i` of a batched golden, as a batch of one: x_T [N, ...] has the batch on axis 0, a
 * trajectory's xs / x0_preds / noises [K, N, ...] on axis 1. SwiftShader time is per image, so the
 * trajectory tests replay one sample of the reference's batch.
 */
export function oneSample(t: HostTensor, axis: 0 | 1, i = 0): HostTensor {
  const N = t.shape[axis]!, outer = axis === 0 ? 1 : t.shape[0]!;
  const per = t.data.length / (outer * N);
  const data = new Float32Array(outer * per);
  for (let k = 0; k < outer; k++) data.set(t.data.subarray((k * N + i) * per, (k * N + i + 1) * per), k * per);
  const shape = [...t.shape];
  shape[axis] = 1;
  return { shape, data };
}

export function expectClose(got: Float32Array, ref: Float32Array, atol: number, rtol: number, what: string): void {
  if (got.length !== ref.length) throw new Error(`${what}: got ${got.length} values, reference has ${ref.length}`);
  const lines: string[] = [];
  let count = 0;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i] - ref[i]);
    if (err <= atol + rtol * Math.abs(ref[i])) continue;
    count++;
    if (err > worst || Number.isNaN(err)) {
      worst = err;
      worstAt = i;
    }
    if (lines.length < SHOWN_MISMATCHES) lines.push(`  [${i}] got ${got[i]}, ref ${ref[i]}, |diff| ${err.toExponential(3)}`);
  }
  if (count > 0) {
    throw new Error(
      `${what}: ${count} of ${ref.length} values outside |diff| <= ${atol} + ${rtol}|ref|; ` +
        `worst |diff| ${worst.toExponential(3)} at [${worstAt}]; first mismatches:\n${lines.join('\n')}`,
    );
  }
}
