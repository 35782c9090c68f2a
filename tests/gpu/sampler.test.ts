// The samplers on WebGPU vs the PyTorch trajectories of unet-tiny.samplers (same x_T, same noises):
// every x_t and every predicted x0 within max |got - ref| <= 1e-3 * max(1, max |ref|).
import { describe, expect, it } from 'vitest';
import { readTensors } from '../../src/gpu/tensor';
import { withErrorScopes } from '../../src/gpu/kernel';
import { getTensor } from '../../src/io/safetensors';
import { alphaBars, betaSchedule, DEFAULT_DIFFUSION } from '../../src/diffusion/schedule';
import { inversionCoefficients, stepCoefficients, type SamplerOptions } from '../../src/diffusion/samplers';
import { configFromMetadata } from '../../src/nn/config';
import { UNet } from '../../src/nn/unet';
import { unetStepModel } from '../../src/engine/step-model';
import { Sampler } from '../../src/engine/sampler';
import { denoiseStep as refStep } from '../../src/ref/diffusion';
import { denoiseStep } from '../../src/kernels/diffusion';
import { expectMaxAbs, FWD, gpuZeros, randomTensor, run, toGpu, useGpu } from './harness';
import { expectClose, loadReference, oneSample } from '../unit/ref-helpers';

const gpu = useGpu();
const abar = alphaBars(betaSchedule(DEFAULT_DIFFUSION));
const base = { eta: 0, clipX0: false, useClippedModelOutput: false };

// ddim_uniform10_eta1 is replayed end to end by `ddim sample --init` in cli.test.ts, on the same engine.
const RUNS: [string, SamplerOptions][] = [
  ['ddim_uniform10_eta0', { ...base, sampler: 'generalized' }],
  ['ddim_quad8_eta0.5', { ...base, sampler: 'generalized', eta: 0.5 }],
  ['ddpm_noisy_uniform10', { ...base, sampler: 'ddpm_noisy' }],
];

describe('samplers on WebGPU', () => {
  it('the step kernel matches the CPU reference for every option', async () => {
    const d = gpu.device;
    const shape = [3, 3, 5, 7];
    const xt = randomTensor(shape, 1, 2), eps = randomTensor(shape, 2), noise = randomTensor(shape, 3);
    for (const o of [
      { ...base, sampler: 'generalized', eta: 0.7 },
      { ...base, sampler: 'generalized', eta: 0, clipX0: true, useClippedModelOutput: true },
      { ...base, sampler: 'ddpm_noisy' },
    ] as SamplerOptions[]) {
      for (const coef of stepCoefficients([0, 10, 500], abar, o)) {
        const xNext = gpuZeros(d, shape), x0 = gpuZeros(d, shape);
        const [gx, g0] = await run(d, [denoiseStep(d, { xt: toGpu(d, xt), eps: toGpu(d, eps), noise: toGpu(d, noise), xNext, x0, coef, label: 'step' })], [xNext, x0]);
        const ref = refStep(xt.data, eps.data, noise.data, coef);
        expectClose(gx!, ref.xNext, FWD.atol, FWD.rtol, `${o.sampler} t=${coef.t} x_next`);
        expectClose(g0!, ref.x0, FWD.atol, FWD.rtol, `${o.sampler} t=${coef.t} x0`);
      }
    }
  });

  for (const [name, options] of RUNS) {
    it(`reproduces the reference trajectory ${name}`, async () => {
      const d = gpu.device;
      const weights = loadReference('unet-tiny.safetensors');
      const golden = loadReference('unet-tiny.samplers.safetensors');
      // The first sample of the reference's batch, x_T and noises alike (SwiftShader time is per image).
      const xT = oneSample(getTensor(golden, 'xT'), 0);
      const net = new UNet(d, configFromMetadata(weights.metadata, 'unet-tiny'), { batch: 1 });
      net.params.load(weights, 'unet-tiny');
      const seq = Array.from(getTensor(golden, `${name}/seq`).data);
      const sampler = new Sampler(d, unetStepModel(net), stepCoefficients(seq, abar, options), { kind: 'replay', noises: oneSample(getTensor(golden, `${name}/noises`), 1).data }, true);
      await withErrorScopes(d, name, () => sampler.run(xT.data));
      const [xs, x0s] = await readTensors(d, [sampler.xs!, sampler.x0s!]);
      const refXs = oneSample(getTensor(golden, `${name}/xs`), 1), refX0 = oneSample(getTensor(golden, `${name}/x0_preds`), 1);
      expect(sampler.xs!.shape).toEqual(refXs.shape);
      const n = xT.data.length;
      for (let k = 0; k <= sampler.steps; k++) {
        expectMaxAbs(xs!.subarray(k * n, (k + 1) * n), refXs.data.subarray(k * n, (k + 1) * n), 1e-3, `${name} xs[${k}]`);
        if (k < sampler.steps) expectMaxAbs(x0s!.subarray(k * n, (k + 1) * n), refX0.data.subarray(k * n, (k + 1) * n), 1e-3, `${name} x0_preds[${k}]`);
      }
    }, 300_000);
  }

  it('DDIM inversion carries a deterministic sample back near its x_T', async () => {
    const d = gpu.device;
    const weights = loadReference('unet-tiny.safetensors');
    const golden = loadReference('unet-tiny.samplers.safetensors');
    const xT = getTensor(golden, 'xT').data;
    const xs = getTensor(golden, 'ddim_uniform10_eta0/xs').data;
    // The first sample of the reference's batch: the inversion of one image is the whole check.
    const all = xT.length, n = all / getTensor(golden, 'xT').shape[0]!;
    const sample = xs.slice(10 * all, 10 * all + n);
    const seq = Array.from(getTensor(golden, 'ddim_uniform10_eta0/seq').data);
    const net = new UNet(d, configFromMetadata(weights.metadata, 'unet-tiny'), { batch: 1 });
    net.params.load(weights, 'unet-tiny');
    const inversion = new Sampler(d, unetStepModel(net), inversionCoefficients(seq, abar), { kind: 'rng', seed: 0 }, true);
    await withErrorScopes(d, 'inversion', () => inversion.run(sample));
    const [inverted] = await readTensors(d, [inversion.xs!]);
    // The forward trajectory visited the same states in reverse: compare each with the reference's.
    const rel = (k: number) => {
      let e = 0, r = 0;
      for (let i = 0; i < n; i++) {
        e += (inverted![k * n + i]! - xs[(10 - k) * all + i]!) ** 2;
        r += xs[(10 - k) * all + i]! ** 2;
      }
      return Math.sqrt(e / r);
    };
    const errors = Array.from({ length: 11 }, (_, k) => rel(k));
    // Exact at the start; near the data the chain is followed closely (measured: <= 0.2% up to
    // t = 200); DDIM inversion's error grows with the step size and reaches ~13% at x_T over 10
    // steps, still far below the ~141% that separates two independent noises.
    expect(errors[0]).toBe(0);
    for (let k = 1; k <= 7; k++) expect(errors[k]).toBeLessThan(0.01);
    expect(errors[10]).toBeLessThan(0.25);
  }, 300_000);
});
