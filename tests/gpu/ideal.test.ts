// The ideal denoiser (shaders/ideal.wgsl, engine/ideal.ts) against its CPU reference (src/ref/ideal.ts)
// on odd shapes, and on the bundled 16 px emoji: its first-step x0 at t = T - 1 is the data set's mean
// image (the blurry average), a lightly noised training image comes back as itself, and its DDIM
// chain from pure noise ends on training images: the two ends of the seed's question.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { idealModel } from '../../src/app/model-files';
import { ddimSpec, planChain } from '../../src/app/sampling';
import { noised } from '../../src/diffusion/forward';
import { DEFAULT_DIFFUSION, alphaBars, betaSchedule } from '../../src/diffusion/schedule';
import { IdealStepModel } from '../../src/engine/ideal';
import { runChain } from '../../src/engine/sampler';
import { gaussian } from '../../src/host/rng';
import { idealDenoiser } from '../../src/ref/ideal';
import { loadEmoji } from '../../src/train/emoji';
import { expectClose } from '../unit/ref-helpers';
import { randomTensor, run, useGpu } from './harness';
import { upload } from '../../src/gpu/tensor';

const gpu = useGpu();
const abar = alphaBars(betaSchedule(DEFAULT_DIFFUSION));
const emoji16 = loadEmoji(16, 'train', async (f) => new Uint8Array(readFileSync(`public/data/${f}`)));
const mse = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length;

/** x0 and eps of the GPU ideal denoiser for x at per-sample timesteps ts. */
async function gpuIdeal(images: Float32Array, count: number, shape: [number, number, number], x: Float32Array, ts: number[]): Promise<{ x0: Float32Array; eps: Float32Array }> {
  const d = gpu.device;
  const m = new IdealStepModel(d, images, count, shape, abar, ts.length);
  try {
    upload(d, m.x, x);
    upload(d, m.t, Float32Array.from(ts));
    const [x0, eps] = await run(d, m.at().forward, [m.x0, m.eps]);
    return { x0: x0!, eps: eps! };
  } finally {
    m.destroy();
  }
}

describe('the ideal denoiser', () => {
  it('matches the CPU reference on odd shapes, from pure noise to nearly clean', async () => {
    const shape: [number, number, number] = [3, 5, 5];
    const count = 37, D = 75;
    const data = randomTensor([count, ...shape], 1).data.map((v) => Math.tanh(v));
    const ts = [999, 400, 40];
    // x_t near the third image at t = 40, near the middle of the data at 400, noise at 999.
    const x = new Float32Array(ts.length * D);
    ts.forEach((t, b) => x.set(noised(data.subarray(b * D, (b + 1) * D), gaussian(3, b, 0, D), abar[t]!), b * D));
    const got = await gpuIdeal(data, count, shape, x, ts);
    const ref = idealDenoiser(x, ts, abar, data, count);
    expectClose(got.x0, ref.x0, 1e-5, 1e-4, 'ideal x0');
    expectClose(got.eps, ref.eps, 1e-4, 1e-3, 'ideal eps');
  });

  it('on the 16 px emoji: x0 at t = T - 1 is the mean image; a lightly noised training image comes back as itself', async () => {
    const data = await emoji16;
    const D = 3 * 16 * 16, T = abar.length;
    const mean = new Float32Array(D);
    for (let i = 0; i < data.count; i++) for (let d = 0; d < D; d++) mean[d]! += data.images[i * D + d]! / data.count;
    const image = data.images.subarray(100 * D, 101 * D);
    const x = new Float32Array(2 * D);
    x.set(gaussian(7, 0, 0, D), 0);
    x.set(noised(image, gaussian(7, 1, 0, D), abar[50]!), D);
    const { x0 } = await gpuIdeal(data.images, data.count, [3, 16, 16], x, [T - 1, 50]);
    expect(mse(x0.subarray(0, D), mean)).toBeLessThan(1e-3);
    expect(mse(x0.subarray(D), image)).toBeLessThan(1e-6);
  });

  it('as a model, its DDIM chain from pure noise ends on training images', { timeout: 120_000 }, async () => {
    const data = await emoji16;
    const model = idealModel(data, DEFAULT_DIFFUSION);
    const plan = model.plan(gpu.device, 2);
    try {
      const x = await runChain(gpu.device, plan, planChain(DEFAULT_DIFFUSION, ddimSpec(10)).coefficients, { kind: 'rng', seed: 3 });
      const D = 3 * 16 * 16;
      for (let b = 0; b < 2; b++) {
        let nearest = Infinity;
        for (let i = 0; i < data.count; i++) nearest = Math.min(nearest, mse(x.subarray(b * D, (b + 1) * D), data.images.subarray(i * D, (i + 1) * D)));
        expect(nearest, `sample ${b}`).toBeLessThan(1e-4);
      }
    } finally {
      plan.destroy();
    }
  });
});
