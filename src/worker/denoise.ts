// The Denoise view: one clean image, noised to x_t with a seeded noise; the model's one-shot x0
// prediction at t against the DDIM chain (eta 0) from t down to 0, both scored against the clean
// image; and the one-shot error across t for the same image and noise (why the first step's x0 is
// not the result: at large t it is a blurry average). And DDIM inversion of the same image: carried
// up the deterministic chain to x_T, back down to a reconstruction, and re-sampled from that x_T
// with another eta or number of steps.
import { invertImages, planInversion } from '../app/inversion';
import { checkSeed, ddimSpec, planChain } from '../app/sampling';
import { clippedMse, noised, psnr, x0FromEps } from '../diffusion/forward';
import { alphaBars, betaSchedule } from '../diffusion/schedule';
import { runChain } from '../engine/sampler';
import { submitDispatches } from '../gpu/kernel';
import { readTensor, upload } from '../gpu/tensor';
import type { ReferenceModel } from '../io/convert';
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

export async function denoise(
  device: GPUDevice,
  nets: { one: NetCache; curve: NetCache },
  id: string,
  model: ReferenceModel,
  clean: Float32Array,
  t: number,
  steps: number,
  seed: number,
  job: JobContext,
): Promise<DenoiseResult> {
  const cfg = model.config;
  const abar = alphaBars(betaSchedule(model.diffusion));
  const T = abar.length;
  if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`t must be an integer in [0, ${T}), got ${t}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  const n = cfg.in_channels * cfg.resolution * cfg.resolution;
  if (clean.length !== n) throw new Error(`the image has ${clean.length} values, the model takes ${cfg.in_channels}x${cfg.resolution}x${cfg.resolution}`);
  const noise = gaussian(seed, 0, 0, n);
  const noisedAt = (tt: number): Float32Array => noised(clean, noise, abar[tt]!);

  // One-shot x0 at t, then the chain from the same x_t.
  const one = nets.one.get(id, model, 1);
  const xt = noisedAt(t);
  upload(device, one.x, xt);
  upload(device, one.t, Float32Array.of(t));
  submitDispatches(device, one.forward, 'denoise one-shot');
  const oneShot = x0FromEps(xt, await readTensor(device, one.eps), abar[t]!);
  const seq = chainFrom(t, steps);
  // Units: the one-shot forward, the chain's steps, the curve's batched forward.
  job.progress(1, seq.length + 2, 'the chain from t');
  const chain = await runChain(device, one, planChain(model.diffusion, ddimSpec(seq.length), seq).coefficients, { kind: 'rng', seed }, xt, chainSteps(device, job, 1));

  // One-shot error across t, one batched forward.
  const ts = curveTimesteps(T);
  const net = nets.curve.get(id, model, ts.length);
  const batch = new Float32Array(ts.length * n);
  ts.forEach((tt, i) => batch.set(noisedAt(tt), i * n));
  upload(device, net.x, batch);
  upload(device, net.t, Float32Array.from(ts));
  submitDispatches(device, net.forward, 'denoise curve');
  const eps = await readTensor(device, net.eps);
  job.progress(seq.length + 2);
  const curve = ts.map((tt, i) => ({ t: tt, mse: clippedMse(x0FromEps(batch.subarray(i * n, (i + 1) * n), eps.subarray(i * n, (i + 1) * n), abar[tt]!), clean) }));

  const px = (x: Float32Array): Pixels => toPixels(x, cfg.in_channels, cfg.resolution);
  const s1 = score(oneShot, clean), s2 = score(chain, clean);
  return {
    clean: px(clean), xt: px(xt), oneShot: px(oneShot), chain: px(chain),
    oneShotMse: s1.mse, oneShotPsnr: s1.psnr, chainMse: s2.mse, chainPsnr: s2.psnr, curve,
  };
}

/** Units: the inversion's steps up, its steps down, the re-sampling's steps. */
export async function invert(device: GPUDevice, nets: NetCache, id: string, model: ReferenceModel, clean: Float32Array, req: InversionRequest, job: JobContext): Promise<InversionResult> {
  const cfg = model.config;
  const plan = planInversion(model.diffusion, req.steps);
  const resample = planChain(model.diffusion, ddimSpec(req.resampleSteps, req.resampleEta), undefined, 're-sampling');
  checkSeed(req.seed);
  const up = plan.up.length;
  job.progress(0, 2 * up + resample.coefficients.length, 'up to x_T');
  const net = nets.get(id, model, 1);
  const { xT, reconstruction, psnr: [reconstructionPsnr] } = await invertImages(device, net, plan, clean, chainSteps(device, job));
  job.progress(2 * up, undefined, 're-sampling');
  const resampled = await runChain(device, net, resample.coefficients, { kind: 'rng', seed: req.seed }, xT, chainSteps(device, job, 2 * up));
  const px = (x: Float32Array): Pixels => toPixels(x, cfg.in_channels, cfg.resolution);
  return {
    clean: px(clean), xT: px(xT), reconstruction: px(reconstruction), resampled: px(resampled),
    seq: plan.seq, reconstructionPsnr: reconstructionPsnr!, resampledPsnr: score(resampled, clean).psnr,
  };
}
