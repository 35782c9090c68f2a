// groupnorm kernels (with and without fused SiLU) vs the CPU reference and the PyTorch golden.
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { groupNormBackward, groupNormForward, groupNormPartialsShape } from '../../src/kernels/groupnorm';
import { RowSums } from '../../src/kernels/reduce';
import { planeSumsInOrder } from '../../src/ref/plane-sums';
import { groupNorm, groupNormBackward as refBackward } from '../../src/ref/groupnorm';
import { concatChannels, concatChannelsBackward } from '../../src/ref/concat';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { BWD, FWD, gpuZeros, packOnGpu, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();

/** GroupNorm forward and backward of x on the GPU; with `ca`, x is given as two tensors (its first
 *  ca channels and the rest, the UNet's skip concatenation read in place) and dx comes back in two. */
async function gpuNorm(x: HostTensor, w: HostTensor, b: HostTensor, dy: HostTensor, groups: number, silu: boolean, dxInit?: HostTensor, ca?: number, residualGrad?: HostTensor) {
  const d = gpu.device;
  const B = x.shape[0]!;
  const split = (t: HostTensor) => {
    if (ca === undefined) return [t];
    const { da, db } = concatChannelsBackward(t, ca);   // the channel split, as the concat's backward
    return [da, db];
  };
  const parts = split(x);
  const dxParts = dxInit ? split(dxInit) : parts.map((p) => ({ shape: p.shape, data: new Float32Array(p.data.length) }));
  const [tx, tx2] = parts.map((p) => toGpu(d, p, 'x'));
  const [dx, dx2] = dxParts.map((p) => toGpu(d, p, 'dx'));
  const [tw, tb] = packOnGpu(d, [w, b], 'gn.affine');   // the flat parameters: w and b in one buffer
  const args = { x: tx!, x2: tx2, w: tw!, b: tb!, groups, silu, label: 'gn', stats: gpuZeros(d, [2, B, groups]) };
  const y = gpuZeros(d, x.shape);
  const [dw, db] = packOnGpu(d, [w, b].map((t) => ({ shape: t.shape, data: new Float32Array(t.data.length) })), 'gn.grads');
  const rowSums = new RowSums(d, RowSums.floats(groupNormPartialsShape(x.shape)), 'gn');
  const [gy, gdw, gdb, gdx, gdx2] = await run(d, [
    groupNormForward(d, { ...args, y }),
    groupNormBackward(d, { ...args, dy: toGpu(d, dy), dx: dx!, dx2, dw, db, rowSums, accumulate: dxInit !== undefined, residualGrad: residualGrad && toGpu(d, residualGrad, 'r') }),
    ...rowSums.dispatch(d),
  ], [y, dw, db, dx!, ...(dx2 ? [dx2] : [])]);
  const dxAll = gdx2 ? concatChannels({ shape: parts[0]!.shape, data: gdx! }, { shape: parts[1]!.shape, data: gdx2 }).data : gdx!;
  return { y: gy!, dx: dxAll, dw: gdw!, db: gdb! };
}

describe('groupnorm on WebGPU', () => {
  it('matches the PyTorch golden groupnorm32', async () => {
    const ref = loadReference('ops.safetensors');
    const t = (n: string) => getTensor(ref, `groupnorm32/${n}`);
    const out = await gpuNorm(t('x'), t('w'), t('b'), t('grad_y'), 32, false);
    expectClose(out.y, t('y').data, FWD.atol, FWD.rtol, 'y');
    expectClose(out.dx, t('grad_x').data, BWD.atol, BWD.rtol, 'grad_x');
    expectClose(out.dw, t('grad_w').data, BWD.atol, BWD.rtol, 'grad_w');
    expectClose(out.db, t('grad_b').data, BWD.atol, BWD.rtol, 'grad_b');
  });

  for (const [name, shape, groups, silu] of [
    ['batch 3, 12 channels in 4 groups, 7x9, fused SiLU', [3, 12, 7, 9], 4, true],
    ['batch 1, 5 channels one per group, 23x17 (more than a workgroup per group)', [1, 5, 23, 17], 5, false],
    ['batch 3, 96 channels in 32 groups, 5x3, fused SiLU', [3, 96, 5, 3], 32, true],
  ] as const) {
    it(`${name} matches the CPU reference`, async () => {
      const x = randomTensor(shape, 1, 2), w = randomTensor([shape[1]], 2), b = randomTensor([shape[1]], 3), dy = randomTensor(shape, 4);
      for (let i = 0; i < x.data.length; i++) x.data[i]! += 3; // an offset mean exercises the two-pass variance
      const ref = groupNorm(x, w, b, groups, 1e-6, silu);
      const grads = refBackward(x, w, b, ref.mean, ref.rstd, dy, groups, silu);
      const out = await gpuNorm(x, w, b, dy, groups, silu);
      expectClose(out.y, ref.y.data, FWD.atol, FWD.rtol, 'y');
      expectClose(out.dx, grads.dx.data, BWD.atol, BWD.rtol, 'dx');
      expectClose(out.dw, grads.dw.data, BWD.atol, BWD.rtol, 'dw');
      expectClose(out.db, grads.db.data, BWD.atol, BWD.rtol, 'db');
    });
  }

  // The UNet's skip concatenation read in place: 96 = 40 + 56 channels in 32 groups of 3, so one
  // group straddles the two tensors; dx assigned, then accumulated, into both.
  it('normalises two tensors as their channel concatenation (batch 2, 40 + 56 channels, a group across both)', async () => {
    const shape = [2, 96, 5, 3];
    const x = randomTensor(shape, 11, 2), w = randomTensor([96], 12), b = randomTensor([96], 13), dy = randomTensor(shape, 14), prior = randomTensor(shape, 15);
    const ref = groupNorm(x, w, b, 32, 1e-6, true);
    const grads = refBackward(x, w, b, ref.mean, ref.rstd, dy, 32, true);
    const out = await gpuNorm(x, w, b, dy, 32, true, undefined, 40);
    expectClose(out.y, ref.y.data, FWD.atol, FWD.rtol, 'y of x ++ x2');
    expectClose(out.dx, grads.dx.data, BWD.atol, BWD.rtol, 'dx, dx2');
    expectClose(out.dw, grads.dw.data, BWD.atol, BWD.rtol, 'dw');
    expectClose(out.db, grads.db.data, BWD.atol, BWD.rtol, 'db');
    const acc = await gpuNorm(x, w, b, dy, 32, true, prior, 40);
    expectClose(acc.dx, grads.dx.data.map((v, i) => v + prior.data[i]!), BWD.atol, BWD.rtol, 'dx, dx2 +=');
  });

  it('accumulates dx into an existing gradient', async () => {
    const shape = [2, 8, 3, 5];
    const x = randomTensor(shape, 5), w = randomTensor([8], 6), b = randomTensor([8], 7), dy = randomTensor(shape, 8), prior = randomTensor(shape, 9);
    const ref = groupNorm(x, w, b, 4, 1e-6, true);
    const grads = refBackward(x, w, b, ref.mean, ref.rstd, dy, 4, true);
    const out = await gpuNorm(x, w, b, dy, 4, true, prior);
    expectClose(out.dx, grads.dx.data.map((v, i) => v + prior.data[i]!), BWD.atol, BWD.rtol, 'dx += ');
  });

  // A block out = x + f(groupnorm(x)): the GroupNorm's backward adds out's gradient r into x's.
  it('adds the identity shortcut\'s gradient into dx, assigned and accumulated, and only into a one-tensor input', async () => {
    const shape = [2, 8, 3, 5];
    const x = randomTensor(shape, 5), w = randomTensor([8], 6), b = randomTensor([8], 7), dy = randomTensor(shape, 8), prior = randomTensor(shape, 9), r = randomTensor(shape, 10);
    const ref = groupNorm(x, w, b, 4, 1e-6, true);
    const grads = refBackward(x, w, b, ref.mean, ref.rstd, dy, 4, true);
    const out = await gpuNorm(x, w, b, dy, 4, true, undefined, undefined, r);
    expectClose(out.dx, grads.dx.data.map((v, i) => v + r.data[i]!), BWD.atol, BWD.rtol, 'dx = r + ');
    const acc = await gpuNorm(x, w, b, dy, 4, true, prior, undefined, r);
    expectClose(acc.dx, grads.dx.data.map((v, i) => v + prior.data[i]! + r.data[i]!), BWD.atol, BWD.rtol, 'dx += r + ');
    await expect(gpuNorm(x, w, b, dy, 4, true, undefined, 3, r)).rejects.toThrow(/gn: groupnorm backward adds a residual gradient only into a one-tensor input/);
  });

  // The ResBlock's norm2 also sums its dx per (sample, channel) plane, the gradient of conv1's
  // time-embedding add: in the order of src/ref/plane-sums.ts, to the last bit, without a dispatch.
  // Planes of 16, 70 (ragged against 64 threads) and 256 pixels.
  for (const [B, C, H, W, groups] of [[2, 64, 4, 4, 32], [3, 12, 7, 10, 3], [1, 32, 16, 16, 8]] as const) {
    it(`sums dx per plane in the GPU's plane-sum order, bit for bit (${B}x${C}x${H}x${W}, ${groups} groups)`, async () => {
      const d = gpu.device, shape = [B, C, H, W];
      const x = toGpu(d, randomTensor(shape, 21), 'x'), dy = toGpu(d, randomTensor(shape, 22), 'dy');
      const [w, b] = packOnGpu(d, [randomTensor([C], 23), randomTensor([C], 24)], 'gn.affine');
      const [dw, db] = packOnGpu(d, [{ shape: [C], data: new Float32Array(C) }, { shape: [C], data: new Float32Array(C) }], 'gn.grads');
      const args = { x, w: w!, b: b!, groups, silu: true, label: 'gn', stats: gpuZeros(d, [2, B, groups]) };
      const rowSums = new RowSums(d, RowSums.floats(groupNormPartialsShape(shape)) + RowSums.floats([B, C]), 'gn');
      const planeSums = rowSums.take([B, C], 'planes');
      const dx = gpuZeros(d, shape, 'dx');
      const [sums, gdx] = await run(d, [
        groupNormForward(d, { ...args, y: gpuZeros(d, shape) }),
        groupNormBackward(d, { ...args, dy, dx, dw: dw!, db: db!, rowSums, accumulate: false, planeSums }),
      ], [planeSums, dx]);
      expect(sums).toEqual(planeSumsInOrder({ shape: [...shape], data: gdx! }).data);
      expect([...sums!].some((v) => v !== 0)).toBe(true);
    });
  }

  it('refuses plane sums where dx is not the input\'s whole gradient', () => {
    const d = gpu.device, shape = [1, 8, 2, 2];
    const [w, b] = packOnGpu(d, [randomTensor([8], 1), randomTensor([8], 2)], 'gn.affine');
    const rowSums = new RowSums(d, 64, 'gn');
    const args = { x: gpuZeros(d, shape), w: w!, b: b!, groups: 4, silu: true, label: 'gn', stats: gpuZeros(d, [2, 1, 4]) };
    expect(() => groupNormBackward(d, { ...args, dy: gpuZeros(d, shape), dx: gpuZeros(d, shape), dw: gpuZeros(d, [8]), db: gpuZeros(d, [8]), rowSums, accumulate: true, planeSums: gpuZeros(d, [1, 8]) }))
      .toThrow(/gn: groupnorm plane sums need an assigned dx of a one-tensor input/);
  });
});
