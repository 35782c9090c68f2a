// Nearest 2x upsample and 2x2 average pool vs the CPU references (odd shapes, batch 1 and 3) and
// the PyTorch goldens, with the accumulating backward variants.
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { avgPoolBackward, avgPoolForward, upsampleBackward, upsampleForward } from '../../src/kernels/resample';
import { avgPool2x2, avgPool2x2Backward, upsampleNearest2x, upsampleNearest2xBackward } from '../../src/ref/resample';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { BWD, FWD, gpuZeros, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();
const golden = (name: string): HostTensor => getTensor(loadReference('ops.safetensors'), name);

type Op = 'upsample' | 'avgpool';

/** Forward of x, backward of dy; with `pre`, dx starts at pre and accumulates. */
async function gpuResample(op: Op, x: HostTensor, dy: HostTensor, pre?: HostTensor) {
  const d = gpu.device;
  const [fwd, bwd] = op === 'upsample' ? [upsampleForward, upsampleBackward] : [avgPoolForward, avgPoolBackward];
  const y = gpuZeros(d, dy.shape, 'y');
  const dx = pre ? toGpu(d, pre, 'dx') : gpuZeros(d, x.shape, 'dx');
  const [gy, gdx] = await run(d, [
    fwd(d, { x: toGpu(d, x, 'x'), y, label: op }),
    bwd(d, { dy: toGpu(d, dy, 'dy'), dx, accumulate: pre !== undefined, label: op }),
  ], [y, dx]);
  return { y: gy!, dx: gdx! };
}

const REF = {
  upsample: { fwd: upsampleNearest2x, bwd: upsampleNearest2xBackward },
  avgpool: { fwd: avgPool2x2, bwd: avgPool2x2Backward },
};

describe('resample on WebGPU', () => {
  for (const [op, name] of [['upsample', 'upsample_nearest2x'], ['avgpool', 'avgpool2x2']] as const) {
    it(`${name} matches the PyTorch golden`, async () => {
      const t = (n: string) => golden(`${name}/${n}`);
      const out = await gpuResample(op, t('x'), t('grad_y'));
      expectClose(out.y, t('y').data, FWD.atol, FWD.rtol, `${name} y`);
      expectClose(out.dx, t('grad_x').data, BWD.atol, BWD.rtol, `${name} grad_x`);
    });
  }

  const ODD: [Op, number[]][] = [
    ['upsample', [3, 5, 7, 9]], ['upsample', [1, 3, 5, 11]],
    ['avgpool', [3, 5, 14, 18]], ['avgpool', [1, 3, 10, 6]],
  ];
  for (const [op, shape] of ODD) {
    it(`${op} [${shape}] matches the CPU reference, = and +=`, async () => {
      const x = randomTensor(shape, 1);
      const y = REF[op].fwd(x);
      const dy = randomTensor(y.shape, 2), pre = randomTensor(shape, 3);
      const dx = REF[op].bwd(dy).data;
      const out = await gpuResample(op, x, dy);
      expectClose(out.y, y.data, FWD.atol, FWD.rtol, 'y');
      expectClose(out.dx, dx, BWD.atol, BWD.rtol, 'dx');
      const acc = await gpuResample(op, x, dy, pre);
      expectClose(acc.dx, pre.data.map((v, i) => v + dx[i]!), BWD.atol, BWD.rtol, 'dx +=');
    });
  }

  it('rejects an average pool of an odd size', () => {
    const d = gpu.device;
    expect(() => avgPoolForward(d, { x: gpuZeros(d, [1, 2, 5, 6], 'x'), y: gpuZeros(d, [1, 2, 2, 3], 'y'), label: 'down.0.pool' }))
      .toThrow(/down.0.pool: tensor "x" has shape \[1,2,5,6\], expected \[1,2,4,6\]/);
  });
});
