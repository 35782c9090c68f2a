// The sampling use case, the same for the page (worker/sampling.ts) and `ddim sample`: its limits,
// checked in one place with the same words for both, and its plan (the chain's timesteps and each
// step's coefficients from the model's schedule), so neither adapter computes them itself.
import { alphaBars, betaSchedule, type DiffusionConfig } from '../diffusion/schedule';
import { SAMPLERS, stepCoefficients, type SamplerKind, type StepCoefficients } from '../diffusion/samplers';
import { SKIP_TYPES, timestepSequence, type SkipType } from '../diffusion/timesteps';
import { slerpFrames } from '../diffusion/interpolate';
import { gaussian } from '../host/rng';
import type { UNetConfig } from '../nn/config';

/** The largest batch one chain samples: the Sample tab's batch, an interpolation's frames, `ddim sample --n`. */
export const MAX_SAMPLE_BATCH = 64;
/** The largest seed (the GPU RNG takes a u32). */
export const MAX_SEED = 0xffffffff;

/** The comparison grid's most cells: each is a whole chain. */
export const MAX_GRID_CELLS = 36;

/** A comparison grid's cell count, within [1, MAX_GRID_CELLS]. */
export function checkGridCells(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_GRID_CELLS) throw new Error(`a comparison grid has 1 to ${MAX_GRID_CELLS} cells (each a whole chain), got ${n}`);
}

/** One chain's settings, wherever they come from (the Sample tab, a link, `ddim sample`'s flags). */
export interface ChainSettings {
  sampler: SamplerKind;
  steps: number;
  eta: number;
  skip: SkipType;
  seed: number;
  batch: number;
  /** Clip the predicted x0 to [-1, 1] before the update (diffusers' clip_sample). */
  clipX0: boolean;
  /** With clipX0: re-derive eps from the clipped x0 (diffusers' use_clipped_model_output); off unless given. */
  useClippedModelOutput?: boolean;
}

/** What a chain is, apart from how many images it carries and its seed (`ddim eval` and inversion plan only this). */
export type ChainSpec = Pick<ChainSettings, 'sampler' | 'steps' | 'eta' | 'skip' | 'clipX0' | 'useClippedModelOutput'>;

/** Checks a chain over T timesteps; errors name the setting and its bounds. */
function checkChainSpec(s: ChainSpec, T: number): void {
  if (!SAMPLERS.includes(s.sampler)) throw new Error(`sampler must be one of ${SAMPLERS.join(', ')}, got ${JSON.stringify(s.sampler)}`);
  if (!SKIP_TYPES.includes(s.skip)) throw new Error(`skip must be one of ${SKIP_TYPES.join(', ')}, got ${JSON.stringify(s.skip)}`);
  if (!Number.isInteger(s.steps) || s.steps < 1 || s.steps > T) throw new Error(`steps must be an integer in [1, ${T}], got ${s.steps}`);
  if (!(s.eta >= 0 && s.eta <= 1)) throw new Error(`eta must be in [0, 1] (0: DDIM, 1: DDPM-like), got ${s.eta}`);
}

export function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) throw new Error(`seed must be an integer in [0, 2^32), got ${seed}`);
}

/** A chain's batch (`what` names it: batch size, frames, the samples of a file) within [min, MAX_SAMPLE_BATCH]. */
function checkSampleBatch(n: number, what: string, min = 1): void {
  if (!Number.isInteger(n) || n < min || n > MAX_SAMPLE_BATCH) throw new Error(`${what} must be an integer in [${min}, ${MAX_SAMPLE_BATCH}], got ${n}`);
}

export interface ChainPlan {
  abar: Float64Array;
  /** Timesteps of the chain, ascending (the chain walks it from its end). */
  seq: number[];
  /** One update per step, the first the noisiest. */
  coefficients: StepCoefficients[];
}

/** How a chain is planned, besides its settings. */
export interface ChainOptions {
  /** Replays this sequence (ascending) instead of `skip` and `steps`. */
  seq?: number[];
  /** Prefixes the errors of a request that holds several chains ("inversion", "re-sampling"). */
  context?: string;
  /** The model file whose schedule the chain runs on, named when the schedule is what refuses it. */
  source?: string;
}

/**
 * The chain `s` describes on a model's schedule, checked first (settings and the finiteness of every
 * step, with a chain that works when one does not).
 */
export function planChain(diffusion: DiffusionConfig, s: ChainSpec, options: ChainOptions = {}): ChainPlan {
  const { seq, context, source } = options;
  const abar = alphaBars(betaSchedule(diffusion));
  try {
    checkChainSpec(s, abar.length);
  } catch (e) {
    throw context ? new Error(`${context}: ${(e as Error).message}`) : e;
  }
  const chain = seq ?? timestepSequence(s.skip, s.steps, abar.length);
  const coefficients = stepCoefficients(chain, abar, { sampler: s.sampler, eta: s.eta, clipX0: s.clipX0, useClippedModelOutput: s.useClippedModelOutput ?? false });
  const bad = coefficients.find((c) => ![c.k0, c.k1, c.a, c.b, c.c, c.d].every(Number.isFinite));
  if (bad) {
    // The reference divides by sqrt(abar_t) there too (its x0 is inf/NaN): refused, with a chain that works.
    const fix = seq ? '' : ` ${finiteAlternative(s, abar) ?? 'Use a schedule whose alpha-bar stays above 0'}`;
    const problem = `${source ?? 'the model'}: the ${diffusion.beta_schedule} schedule has alpha-bar ${abar[bad.t]} at t = ${bad.t}, and a step there divides by sqrt(alpha-bar) (x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)): its values would not be finite.${fix}`;
    throw new Error(context ? `${context}: ${problem}` : problem);
  }
  return { abar, seq: chain, coefficients };
}

/** A chain like `s` whose every step is finite (another skip, else fewer steps), in words, if there is one. */
function finiteAlternative(s: ChainSpec, abar: Float64Array): string | undefined {
  const ok = (skip: SkipType, steps: number): boolean => {
    try {
      return timestepSequence(skip, steps, abar.length).every((t) => abar[t]! > 0);
    } catch {
      return false; // a skip that cannot make this many steps
    }
  };
  for (const skip of SKIP_TYPES) {
    if (skip !== s.skip && ok(skip, s.steps)) return `The same ${s.steps} step${s.steps === 1 ? '' : 's'} with skip "${skip}" stay finite.`;
  }
  for (let steps = s.steps - 1; steps >= 1; steps--) {
    if (ok(s.skip, steps)) return `Skip "${s.skip}" with ${steps} step${steps === 1 ? '' : 's'} stays finite.`;
  }
  return undefined;
}

/** A sampling run's batch and seed (the Sample tab, `ddim sample`). */
export function checkRun(s: Pick<ChainSettings, 'batch' | 'seed'>): void {
  checkSampleBatch(s.batch, 'batch size');
  checkSeed(s.seed);
}

/** A sampling run's chain: its batch and seed checked too (the Sample tab, `ddim sample`). */
export function planSampling(diffusion: DiffusionConfig, s: ChainSettings, options: ChainOptions = {}): ChainPlan {
  checkRun(s);
  return planChain(diffusion, s, options);
}

/** Plain DDIM (generalized steps, no clipping) with `steps` steps and `eta`. */
export function ddimSpec(steps: number, eta = 0, skip: SkipType = 'uniform'): ChainSpec {
  return { sampler: 'generalized', steps, eta, skip, clipX0: false };
}

/**
 * The x_T of an interpolation: `frames` noises spherically between the x_T of `seedA` and of `seedB`
 * (the first image the seeded GPU RNG draws, made here by its CPU twin), one after the other.
 */
export function interpolationStart(config: Pick<UNetConfig, 'in_channels' | 'resolution'>, seedA: number, seedB: number, frames: number): Float32Array {
  checkSampleBatch(frames, 'frames', 2);
  const n = config.in_channels * config.resolution * config.resolution;
  const xT = new Float32Array(frames * n);
  slerpFrames(gaussian(seedA, 0, 0, n), gaussian(seedB, 0, 0, n), frames).forEach((z, i) => xT.set(z, i * n));
  return xT;
}
