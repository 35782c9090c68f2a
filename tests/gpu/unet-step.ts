// Whole training steps of small UNets planned in different ways, for tests that compare their bits
// (tests/gpu/f16-storage.test.ts, tests/gpu/norm-on-load.test.ts).
import { expect } from 'vitest';
import { submitDispatches, withErrorScopes } from '../../src/gpu/kernel';
import { readTensors, upload } from '../../src/gpu/tensor';
import { setRngState } from '../../src/kernels/rng';
import { parseConfig, type UNetConfig } from '../../src/nn/config';
import { UNet, type UNetOptions } from '../../src/nn/unet';
import { randomTensor } from './harness';

/** 8 px, two levels, attention at 4 px, dropout 0.2: every kind of block, a step in a second or two. */
export const DROPOUT_UNET: UNetConfig = parseConfig({
  ch: 16, out_ch: 3, ch_mult: [1, 2], num_res_blocks: 1, attn_resolutions: [4], dropout: 0.2,
  in_channels: 3, resolution: 8, resamp_with_conv: true, norm_groups: 'auto',
});

/** Bit-for-bit equality, naming the first difference. */
export function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length), b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const i = a.findIndex((v, j) => v !== b[j]);
  if (i >= 0) throw new Error(`${what}[${i}]: ${got[i]} where ${want[i]}`);
}

/** One training step (forward and backward, dropout on) of `config` at batch 2 per plan, all from the
 *  same parameters, input, timesteps, output gradient and dropout state: each plan's eps, flat
 *  gradients and dx, and the kernels of its forward. */
export async function stepPerPlan(device: GPUDevice, config: UNetConfig, plans: readonly Partial<UNetOptions>[]) {
  const B = 2, { in_channels: C, out_ch: O, resolution: R } = config;
  const x = randomTensor([B, C, R, R], 12).data, deps = randomTensor([B, O, R, R], 13).data;
  const results: { values: [Float32Array, Float32Array, Float32Array]; kernels: string[]; bytesWritten: number }[] = [];
  let params: Float32Array | undefined;
  for (const [i, plan] of plans.entries()) {
    const net = new UNet(device, config, { batch: B, grad: true, label: `plan${i}`, ...plan });
    params ??= randomTensor([net.layout.totalFloats], 11, 0.15).data;
    upload(device, net.params.flat, params);
    upload(device, net.x, x);
    upload(device, net.t, new Float32Array([7, 640]));
    upload(device, net.deps!, deps);
    if (net.rngState) setRngState(device, net.rngState, 5, 1);
    await withErrorScopes(device, `plan ${i}`, () => submitDispatches(device, [...net.forward, ...net.backward]));
    const [eps, grads, dx] = await readTensors(device, [net.eps, net.grads!.flat, net.dx!]);
    results.push({ values: [eps!, grads!, dx!], kernels: net.forward.map((k) => k.kernel), bytesWritten: net.forward.reduce((s, k) => s + k.bytesWritten, 0) });
    net.destroy();
  }
  return results;
}

/** Asserts that every plan's eps, gradients and dx have the first plan's bits. */
export function expectSameSteps(results: Awaited<ReturnType<typeof stepPerPlan>>): void {
  for (const r of results.slice(1)) ['eps', 'gradients', 'dx'].forEach((name, i) => expectSameBits(r.values[i]!, results[0]!.values[i]!, name));
}
