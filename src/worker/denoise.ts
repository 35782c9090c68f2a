// The Denoise view: one clean image, noised to x_t with a seeded noise; the model's one-shot x0
// prediction at t against the DDIM chain (eta 0) from t down to 0, both scored against the clean
// image; and the one-shot error across t for the same image and noise (why the first step's x0 is
// not the result: at large t it is a blurry average). And DDIM inversion of the same image: carried
// up the deterministic chain to x_T, back down to a reconstruction, and re-sampled from that x_T
// with another eta or number of steps.
import { invertImages, planInversion } from '../app/inversion';
import { checkSeed, ddimSpec, planChain } from '../app/sampling';
import { modelAbar, type ModelFile } from '../app/model-files';
import { clippedMse, noised, psnr, x0FromEps } from '../diffusion/forward';
import type { StepCoefficients } from '../diffusion/samplers';
import { runChain } from '../engine/sampler';
import type { StepModel } from '../engine/step-model';
import { submitDispatches } from '../gpu/kernel';
import { readTensor, upload } from '../gpu/tensor';
import { gaussian } from '../host/rng';
import type { DenoiseResult, InversionRequest, InversionResult, Pixels } from './api';
import { chainSteps, type JobContext } from './engine-core';
import { toPixels } from './pixels';
import type { NetCache } from './sampling';

/** Curve points: t = 0, 100, ..., 900 and T - 1. */
function curveTimesteps(T: number): number[] {
  const ts: number[] = [];
  for (let t = 0; t < T - 1; t += Math.max(1, Math.round(T / 10))) ts.push(t);
  return [...ts, T - 1];
}

/** MSE and PSNR of a prediction clipped to [-1, 1], as it is displayed. */
function score(pred: Float32Array, clean: Float32Array): { mse: number; psnr: number } {
  const mse = clippedMse(pred, clean);
  return { mse, psnr: psnr(mse) };
}

/** The DDIM timesteps of a chain from t down to 0 in `steps` steps (ascending, ending at t). */
export function chainFrom(t: number, steps: number): number[] {
  const n = Math.max(1, Math.min(steps, t + 1));
  const seq = Array.from({ length: n }, (_, i) => (n === 1 ? t : Math.round((i * t) / (n - 1))));
  return [...new Set(seq)];
}

/** eps of `x` (the model's batch of images) at `t` (every image at one t unless `ts` gives one each). */
async function epsOf(device: GPUDevice, model: StepModel, x: Float32Array, t: number, ts?: Float32Array): Promise<Float32Array> {
  upload(device, model.x, x);
  if (model.t) upload(device, model.t, ts ?? new Float32Array(model.x.shape[0]!).fill(t));
  const { forward, eps } = model.at(t);
  submitDispatches(device, forward, 'denoise');
  return readTensor(device, eps);
}

/**
 * The chain from x_t down to 0: `steps` DDIM steps of a time-conditioned model, or the tail of a
 * layered model's own chain (its steps from t, which must be one of them).
 */
function chainFromT(m: ModelFile, t: number, steps: number): StepCoefficients[] {
  if (m.fixedChain) return m.fixedChain.coefficients.filter((c) => c.t <= t);
  const seq = chainFrom(t, steps);
  return planChain(m.diffusion, ddimSpec(seq.length), { seq, source: m.source }).coefficients;
}

export async function denoise(
  device: GPUDevice,
  nets: { one: NetCache; curve: NetCache },
  id: string,
  model: ModelFile,
  clean: Float32Array,
  t: number,
  steps: number,
  seed: number,
  job: JobContext,
): Promise<DenoiseResult> {
  const abar = modelAbar(model);
  const T = abar.length;
  if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`t must be an integer in [0, ${T}), got ${t}`);
  // A layered model denoises at the timesteps of its chain only: one sub-model each.
  const fixed = model.fixedChain?.seq.slice(1);
  if (fixed && !fixed.includes(t)) throw new Error(`${model.source}: a layered model has sub-models at t = ${fixed.join(', ')} only, not at ${t}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  const [C, R] = [model.channels, model.resolution];
  const n = C * R * R;
  if (clean.length !== n) throw new Error(`the image has ${clean.length} values, the model takes ${C}x${R}x${R}`);
  const noise = gaussian(seed, 0, 0, n);
  const noisedAt = (tt: number): Float32Array => noised(clean, noise, abar[tt]!);

  // One-shot x0 at t, then the chain from the same x_t.
  const one = nets.one.get(id, model, 1);
  const xt = noisedAt(t);
  const oneShot = x0FromEps(xt, await epsOf(device, one, xt, t), abar[t]!);
  const coefficients = chainFromT(model, t, steps);
  // One-shot error across t: one batched forward of a time-conditioned model, one forward per sub-model of a layered one.
  const ts = fixed ?? curveTimesteps(T);
  const curveUnits = fixed ? ts.length : 1;
  // Units: the one-shot forward, the chain's steps, the curve's forwards.
  job.progress(1, 1 + coefficients.length + curveUnits, 'the chain from t');
  const chain = await runChain(device, one, coefficients, { kind: 'rng', seed }, xt, chainSteps(device, job, 1));

  const curve: { t: number; mse: number }[] = [];
  const done = 1 + coefficients.length;
  if (fixed) {
    for (const [i, tt] of ts.entries()) {
      const x = noisedAt(tt);
      curve.push({ t: tt, mse: clippedMse(x0FromEps(x, await epsOf(device, one, x, tt), abar[tt]!), clean) });
      job.progress(done + i + 1);
    }
  } else {
    const net = nets.curve.get(id, model, ts.length);
    const batch = new Float32Array(ts.length * n);
    ts.forEach((tt, i) => batch.set(noisedAt(tt), i * n));
    const eps = await epsOf(device, net, batch, ts[0]!, Float32Array.from(ts));
    ts.forEach((tt, i) => curve.push({ t: tt, mse: clippedMse(x0FromEps(batch.subarray(i * n, (i + 1) * n), eps.subarray(i * n, (i + 1) * n), abar[tt]!), clean) }));
    job.progress(done + 1);
  }

  const px = (x: Float32Array): Pixels => toPixels(x, C, R);
  const s1 = score(oneShot, clean), s2 = score(chain, clean);
  return {
    clean: px(clean), xt: px(xt), oneShot: px(oneShot), chain: px(chain),
    oneShotMse: s1.mse, oneShotPsnr: s1.psnr, chainMse: s2.mse, chainPsnr: s2.psnr, chainTimesteps: coefficients.map((c) => c.t), curve,
  };
}

/** Units: the inversion's steps up, its steps down, the re-sampling's steps. */
export async function invert(device: GPUDevice, nets: NetCache, id: string, model: ModelFile, clean: Float32Array, req: InversionRequest, job: JobContext): Promise<InversionResult> {
  const plan = planInversion(model, req.steps);
  const resample = planChain(model.diffusion, ddimSpec(req.resampleSteps, req.resampleEta), { context: 're-sampling', source: model.source });
  checkSeed(req.seed);
  const up = plan.up.length;
  job.progress(0, 2 * up + resample.coefficients.length, 'up to x_T');
  const net = nets.get(id, model, 1);
  const { xT, reconstruction, psnr: [reconstructionPsnr] } = await invertImages(device, net, plan, clean, chainSteps(device, job));
  job.progress(2 * up, undefined, 're-sampling');
  const resampled = await runChain(device, net, resample.coefficients, { kind: 'rng', seed: req.seed }, xT, chainSteps(device, job, 2 * up));
  const px = (x: Float32Array): Pixels => toPixels(x, model.channels, model.resolution);
  return {
    clean: px(clean), xT: px(xT), reconstruction: px(reconstruction), resampled: px(resampled),
    seq: plan.seq, reconstructionPsnr: reconstructionPsnr!, resampledPsnr: score(resampled, clean).psnr, resampledSteps: resample.coefficients.length,
  };
}
