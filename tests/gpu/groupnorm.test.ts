// groupnorm kernels (with and without fused SiLU) vs the CPU reference and the PyTorch golden.
import { describe, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { groupNormBackward, groupNormForward, groupNormScratchFloats } from '../../src/kernels/groupnorm';
import { groupNorm, groupNormBackward as refBackward } from '../../src/ref/groupnorm';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { BWD, FWD, gpuZeros, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();

async function gpuNorm(x: HostTensor, w: HostTensor, b: HostTensor, dy: HostTensor, groups: number, silu: boolean, dxInit?: HostTensor) {
  const d = gpu.device;
  const B = x.shape[0]!;
  const args = {
    x: toGpu(d, x), w: toGpu(d, w), b: toGpu(d, b), groups, silu, label: 'gn',
    mean: gpuZeros(d, [B, groups]), rstd: gpuZeros(d, [B, groups]),
  };
  const y = gpuZeros(d, x.shape), dx = dxInit ? toGpu(d, dxInit) : gpuZeros(d, x.shape);
  const dw = gpuZeros(d, w.shape), db = gpuZeros(d, b.shape);
  const [gy, gdx, gdw, gdb] = await run(d, [
    groupNormForward(d, { ...args, y }),
    ...groupNormBackward(d, { ...args, dy: toGpu(d, dy), dx, dw, db, scratch: gpuZeros(d, [groupNormScratchFloats(x.shape)]), accumulate: dxInit !== undefined }),
  ], [y, dx, dw, db]);
  return { y: gy!, dx: gdx!, dw: gdw!, db: gdb! };
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

  it('accumulates dx into an existing gradient', async () => {
    const shape = [2, 8, 3, 5];
    const x = randomTensor(shape, 5), w = randomTensor([8], 6), b = randomTensor([8], 7), dy = randomTensor(shape, 8), prior = randomTensor(shape, 9);
    const ref = groupNorm(x, w, b, 4, 1e-6, true);
    const grads = refBackward(x, w, b, ref.mean, ref.rstd, dy, 4, true);
    const out = await gpuNorm(x, w, b, dy, 4, true, prior);
    expectClose(out.dx, grads.dx.data.map((v, i) => v + prior.data[i]!), BWD.atol, BWD.rtol, 'dx += ');
  });
});
