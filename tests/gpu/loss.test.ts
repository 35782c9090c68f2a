// Loss kernels vs the CPU reference (odd sizes, batch 1 and 3, more partials than one workgroup adds)
// and q_sample vs the x_t of the PyTorch training golden.
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { ddpmLossBackward, ddpmLossForward, qSample, unitLossWeights } from '../../src/kernels/loss';
import { ddpmLoss, ddpmLossBackward as refLossBackward } from '../../src/ref/loss';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { BWD, FWD, gpuZeros, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();

/** Per-sample (sqrt(abar_t), sqrt(1 - abar_t)) of the linear schedule, float64 then rounded once. */
function linearCoef(ts: readonly number[]): HostTensor {
  const T = 1000;
  const abar: number[] = [];
  let prod = 1;
  for (let s = 0; s < T; s++) {
    prod *= 1 - (1e-4 + (s * (0.02 - 1e-4)) / (T - 1));
    abar.push(prod);
  }
  return { shape: [ts.length, 2], data: Float32Array.from(ts.flatMap((t) => [Math.sqrt(abar[t]!), Math.sqrt(1 - abar[t]!)])) };
}

async function gpuQSample(x0: HostTensor, noise: HostTensor, coef: HostTensor): Promise<Float32Array> {
  const d = gpu.device;
  const xt = gpuZeros(d, x0.shape, 'xt');
  const [got] = await run(d, [qSample(d, { x0: toGpu(d, x0, 'x0'), noise: toGpu(d, noise, 'noise'), coef: toGpu(d, coef, 'coef'), xt, label: 'q_sample' })], [xt]);
  return got!;
}

describe('DDPM loss on WebGPU', () => {
  it('q_sample reproduces the x_t of the training golden', async () => {
    const TRAIN = 'unet-tiny.train.safetensors';
    const train = loadReference(TRAIN);
    const x0 = getTensor(train, 'x0', undefined, TRAIN);
    const t = Array.from(getTensor(train, 't', [x0.shape[0]!], TRAIN).data);
    const got = await gpuQSample(x0, getTensor(train, 'noise', x0.shape, TRAIN), linearCoef(t));
    expectClose(got, getTensor(train, 'xt', x0.shape, TRAIN).data, 1e-5, 0, 'x_t');
  });

  const SHAPES: [string, number[]][] = [
    ['batch 1, 3x5x7', [1, 3, 5, 7]],
    ['batch 3, 5x31x29 (several partials)', [3, 5, 31, 29]],
    ['batch 3, 3x350x350 (more partials than threads in the final pass)', [3, 3, 350, 350]],
  ];
  for (const [name, shape] of SHAPES) {
    it(`${name}: q_sample, loss and its gradient match the CPU reference`, async () => {
      const d = gpu.device;
      const B = shape[0]!;
      const per = shape.slice(1).reduce((a, b) => a * b, 1);
      const x0 = randomTensor(shape, 1), noise = randomTensor(shape, 2), eps = randomTensor(shape, 3);
      const coef = linearCoef([0, 499, 999].slice(0, B));
      const want = x0.data.map((v, i) => {
        const b = Math.floor(i / per);
        return coef.data[2 * b]! * v + coef.data[2 * b + 1]! * noise.data[i]!;
      });
      expectClose(await gpuQSample(x0, noise, coef), want, FWD.atol, FWD.rtol, 'x_t');

      // Per-sample weights (min-SNR weighting): one below 1, one above, one exactly 1.
      const w = [0.3, 2.5, 1].slice(0, B);
      const te = toGpu(d, eps, 'eps'), tn = toGpu(d, noise, 'noise'), tw = toGpu(d, { shape: [B], data: Float32Array.from(w) }, 'w');
      const loss = gpuZeros(d, [1], 'loss'), deps = gpuZeros(d, shape, 'deps');
      const [gl, gd] = await run(d, [
        ...ddpmLossForward(d, { eps: te, noise: tn, weights: tw, loss, label: 'loss' }),
        ddpmLossBackward(d, { eps: te, noise: tn, weights: tw, deps, label: 'loss' }),
      ], [loss, deps]);
      const ref = ddpmLoss(eps, noise, w);
      expect(Math.abs(gl![0]! - ref) / ref, `loss ${gl![0]} vs ${ref}`).toBeLessThanOrEqual(1e-5);
      expectClose(gd!, refLossBackward(eps, noise, w).data, BWD.atol, BWD.rtol, 'deps');
    });
  }

  it('sums the loss in the same order every run', async () => {
    const d = gpu.device;
    const shape = [3, 5, 31, 29];
    const te = toGpu(d, randomTensor(shape, 4)), tn = toGpu(d, randomTensor(shape, 5));
    const loss = gpuZeros(d, [1], 'loss');
    const dispatches = ddpmLossForward(d, { eps: te, noise: tn, weights: unitLossWeights(d, 3, 'w'), loss, label: 'loss' });
    const [a] = await run(d, dispatches, [loss]);
    const [b] = await run(d, dispatches, [loss]);
    expect(b![0]).toBe(a![0]);
  });

  it('rejects a coef that does not match the batch', () => {
    const d = gpu.device;
    expect(() => qSample(d, {
      x0: gpuZeros(d, [2, 3, 4, 4]), noise: gpuZeros(d, [2, 3, 4, 4]), coef: gpuZeros(d, [3, 2], 'coef'), xt: gpuZeros(d, [2, 3, 4, 4]), label: 'bad',
    })).toThrow(/bad: tensor "coef" has shape \[3,2\], expected \[2,2\]/);
  });
});
