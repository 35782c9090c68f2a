// The research experiments, shared by `ddim research` and the app's Research tab. A time-conditioned
// UNet and a layered model are compared over the same chain of timesteps, seq = range(0, T, T // K)
// (the layered model's own seq), with the same update x_j = a x_i + b eps_i(x_i) (DDIM, eta 0):
//   1. one-shot x0 vs the chain: noise held-out images to x_t (t in seq), predict x0 in one step,
//      or run the chain from x_t down to t = 0; the error of each against the clean image, per t;
//   2. the first step from pure noise: the x0 predicted at the largest t of seq next to the chain's
//      final sample from the same noise.
// Every set of images is scored against held-out images (eval/sets.ts): the Fréchet distance of
// pooled pixels (the measure of `ddim eval`), roughness (sharp, blurred or noisy) and spread (one
// picture or many).
// Both run host-driven (one forward per step, read back): a chain is at most num_block steps.
import { clippedMse, noised, x0FromEps } from '../diffusion/forward';
import { ddimUpdate } from '../diffusion/samplers';
import { timestepSequence } from '../diffusion/timesteps';
import { submitDispatches } from '../gpu/kernel';
import { readTensor, upload } from '../gpu/tensor';
import { RELIABLE_FD_N, setStats, type SetMeasure, type SetScores, type SetStats } from '../eval/sets';
import { spreadImages, type ImageDataset } from '../train/data';
import { gaussian } from '../host/rng';
import type { StepModel } from '../engine/step-model';

/** Noise prediction at the timesteps of one chain, for up to `batch` images at a time. */
export interface StepDenoiser {
  readonly kind: 'time' | 'layered' | 'ideal';
  /** The chain's timesteps, ascending, seq[0] = 0. */
  readonly seq: readonly number[];
  readonly abar: Float64Array;
  readonly channels: number;
  readonly resolution: number;
  readonly batch: number;
  readonly parameters: number;
  /** eps(x_t, t) for N <= batch images (N, C, H, W); t must be in seq (and > 0). */
  eps(t: number, x: Float32Array): Promise<Float32Array>;
  /** Frees its plan on the GPU. */
  destroy(): void;
}

/** The chain's timesteps for a model of T steps and num_block K: range(0, T, T // K). */
export function chainSeq(T: number, numBlock: number): number[] {
  if (!Number.isInteger(numBlock) || numBlock < 2 || numBlock > T) throw new Error(`num_block must be an integer in [2, ${T}], got ${numBlock}`);
  return timestepSequence('uniform', numBlock, T);
}

const KINDS = { unet: 'time', layered: 'layered', ideal: 'ideal' } as const;

/**
 * Any step model (a time-conditioned UNet, a layered model, the ideal denoiser) evaluated host-driven
 * at each t of `seq` above 0: x uploaded, one forward, eps read back.
 */
export class ChainDenoiser implements StepDenoiser {
  readonly kind: StepDenoiser['kind'];
  readonly batch: number;
  readonly channels: number;
  readonly resolution: number;
  readonly parameters: number;

  constructor(private readonly device: GPUDevice, readonly model: StepModel, readonly abar: Float64Array, readonly seq: readonly number[]) {
    this.kind = KINDS[model.kind];
    [this.batch, this.channels, this.resolution] = model.x.shape as [number, number, number];
    this.parameters = model.parameters;
  }

  async eps(t: number, x: Float32Array): Promise<Float32Array> {
    if (!this.seq.includes(t) || t === 0) throw new Error(`denoiser: t = ${t} is not a step of the chain (${this.seq.join(', ')})`);
    const per = this.channels * this.resolution * this.resolution;
    const n = x.length / per;
    if (!Number.isInteger(n) || n < 1 || n > this.batch) throw new Error(`denoiser: ${x.length} values is not 1..${this.batch} images of ${per}`);
    const padded = n === this.batch ? x : new Float32Array(this.batch * per);
    if (padded !== x) padded.set(x);
    upload(this.device, this.model.x, padded);
    if (this.model.t) upload(this.device, this.model.t, new Float32Array(this.batch).fill(t));
    const { forward, eps } = this.model.at(t);
    submitDispatches(this.device, forward, 'denoiser');
    return (await readTensor(this.device, eps)).slice(0, n * per);
  }

  destroy(): void {
    this.model.destroy();
  }
}

/** Runs the chain from x at `t` (a step of seq) down to t = 0; also returns the x0 predicted by its first step. */
export async function chainFrom(d: StepDenoiser, x: Float32Array, t: number): Promise<{ final: Float32Array; firstX0: Float32Array }> {
  const start = d.seq.indexOf(t);
  if (start < 1) throw new Error(`chain: t = ${t} is not a step of seq (${d.seq.join(', ')}) above 0`);
  let firstX0: Float32Array | null = null;
  for (let k = start; k >= 1; k--) {
    const [ti, tj] = [d.seq[k]!, d.seq[k - 1]!];
    const [ai, aj] = [d.abar[ti]!, d.abar[tj]!];
    const eps = await d.eps(ti, x);
    firstX0 ??= x0FromEps(x, eps, ai);
    const { a, b } = ddimUpdate(ai, aj);
    x = x.map((v, i) => a * v + b * eps[i]!);
  }
  return { final: x, firstX0: firstX0! };
}

export interface OneShotRow {
  t: number;
  /** Chain steps from t to 0. */
  steps: number;
  /** MSE per value against the clean images. */
  oneShot: number;
  chain: number;
  /** The sets' scores against the held-out images (FD only for two or more images). */
  oneShotSet: SetScores;
  chainSet: SetScores;
}

/**
 * Experiment 1 on `clean` (N <= batch held-out images): at every t of seq above 0, the one-shot x0 and
 * the chain from the same x_t, each scored against the clean images (MSE) and as a set (`measure`).
 */
export async function oneShotVsChain(d: StepDenoiser, clean: Float32Array, seed: number, measure: SetMeasure): Promise<OneShotRow[]> {
  const noise = gaussian(seed, 0, 0, clean.length);
  const rows: OneShotRow[] = [];
  for (let k = 1; k < d.seq.length; k++) {
    const t = d.seq[k]!;
    const xt = noised(clean, noise, d.abar[t]!);
    const { final, firstX0 } = await chainFrom(d, xt, t);
    rows.push({ t, steps: k, oneShot: clippedMse(firstX0, clean), chain: clippedMse(final, clean), oneShotSet: measure.score(firstX0), chainSet: measure.score(final) });
  }
  return rows;
}

export interface FirstStepResult {
  n: number;
  /** From the largest t of seq, pure noise in (N, C, H, W). */
  firstX0: Float32Array;
  final: Float32Array;
  /** Each set scored against the held-out images: FD, roughness, spread. */
  first: SetScores;
  last: SetScores;
  /** Mean squared difference between each first-step x0 and its final sample. */
  mseFirstFinal: number;
}

/** Samples from pure noise in chunks of the denoiser's batch, keeping the first step's x0 and the final x. */
export async function sampleWithFirstStep(d: StepDenoiser, n: number, seed: number): Promise<{ firstX0: Float32Array; final: Float32Array }> {
  const per = d.channels * d.resolution * d.resolution;
  const xT = gaussian(seed, 0, 0, n * per);
  const [firstX0, final] = [new Float32Array(n * per), new Float32Array(n * per)];
  for (let i = 0; i < n; i += d.batch) {
    const m = Math.min(d.batch, n - i);
    const out = await chainFrom(d, xT.slice(i * per, (i + m) * per), d.seq[d.seq.length - 1]!);
    firstX0.set(out.firstX0, i * per);
    final.set(out.final, i * per);
  }
  return { firstX0, final };
}

/** What n training images (the floor) and n clamped noises (the ceiling) score at an experiment's n. */
export interface SetBounds {
  n: number;
  real: SetStats;
  noise: SetStats;
  /** Below this n the FD is biased upwards (RELIABLE_FD_N): compare with the bounds only. */
  reliableN: number;
}

/**
 * What a perfect and a useless set of n images score against `measure`'s reference: n training images
 * spread over the set (the floor) and n clamped Gaussian noises, one draw per seed (the ceiling), so
 * every number of an experiment stands beside the two at its own n.
 */
export function scoreBounds(measure: SetMeasure, train: ImageDataset, n: number, seeds: readonly number[]): SetBounds {
  const per = train.channels * train.resolution * train.resolution;
  const real = measure.score(spreadImages(train, Math.min(n, train.count)));
  return { n, real: setStats([real]), noise: setStats(seeds.map((s) => measure.score(gaussian(s, 99, 0, n * per)))), reliableN: RELIABLE_FD_N };
}

/** Experiment 2: n samples from pure noise; the first-step x0 set and the final set scored by `measure`. */
export async function firstStepStudy(d: StepDenoiser, n: number, seed: number, measure: SetMeasure): Promise<FirstStepResult> {
  if (!Number.isInteger(n) || n < 2) throw new Error(`first-step study: n must be an integer >= 2 (a covariance needs two samples), got ${n}`);
  const { firstX0, final } = await sampleWithFirstStep(d, n, seed);
  let se = 0;
  for (let i = 0; i < final.length; i++) se += (Math.min(1, Math.max(-1, firstX0[i]!)) - Math.min(1, Math.max(-1, final[i]!))) ** 2;
  return {
    n, firstX0, final,
    first: measure.score(firstX0),
    last: measure.score(final),
    mseFirstFinal: se / final.length,
  };
}
