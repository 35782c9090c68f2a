// Noise schedules of the DDPM/DDIM reference (ermongroup/ddim `get_beta_schedule`), in float64, and
// the cosine schedule of Nichol & Dhariwal (2021, "Improved DDPM"), which keeps more signal at large t.
// alpha-bar follows the reference's compute_alpha: abar(t) = prod_{s <= t} (1 - beta_s), abar(-1) = 1.

import { metadataJson } from '../host/metadata';

export type BetaSchedule = 'linear' | 'quad' | 'const' | 'jsd' | 'sigmoid' | 'cosine';
export const BETA_SCHEDULES: readonly BetaSchedule[] = ['linear', 'quad', 'const', 'jsd', 'sigmoid', 'cosine'];

/** The cosine schedule's offset s and its cap on beta (Nichol & Dhariwal 2021, section 3.2). */
const COSINE_S = 0.008;
const COSINE_MAX_BETA = 0.999;

export interface DiffusionConfig {
  beta_schedule: BetaSchedule;
  beta_start: number;
  beta_end: number;
  num_diffusion_timesteps: number;
}

export const DEFAULT_DIFFUSION: DiffusionConfig = { beta_schedule: 'linear', beta_start: 1e-4, beta_end: 0.02, num_diffusion_timesteps: 1000 };

/** numpy.linspace(a, b, n) */
export function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  const step = (b - a) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : a + i * step));
}

export function betaSchedule(c: DiffusionConfig): Float64Array {
  const T = c.num_diffusion_timesteps;
  if (!Number.isInteger(T) || T < 1) throw new Error(`diffusion: num_diffusion_timesteps must be a positive integer, got ${T}`);
  switch (c.beta_schedule) {
    case 'linear':
      return Float64Array.from(linspace(c.beta_start, c.beta_end, T));
    case 'quad':
      return Float64Array.from(linspace(Math.sqrt(c.beta_start), Math.sqrt(c.beta_end), T), (x) => x * x);
    case 'const':
      return new Float64Array(T).fill(c.beta_end);
    case 'jsd':
      return Float64Array.from(linspace(T, 1, T), (x) => 1 / x);
    case 'sigmoid':
      return Float64Array.from(linspace(-6, 6, T), (x) => (1 / (Math.exp(-x) + 1)) * (c.beta_end - c.beta_start) + c.beta_start);
    case 'cosine': {
      // abar(t) = f(t) / f(0), f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2); beta_t = 1 - abar(t+1)/abar(t),
      // capped at 0.999 (beta_start and beta_end are not used).
      const f = (t: number): number => Math.cos(((t / T + COSINE_S) / (1 + COSINE_S)) * (Math.PI / 2)) ** 2;
      return Float64Array.from({ length: T }, (_, i) => Math.min(1 - f(i + 1) / f(i), COSINE_MAX_BETA));
    }
    default:
      throw new Error(`diffusion: unknown beta_schedule "${String(c.beta_schedule)}" (expected one of ${BETA_SCHEDULES.join(', ')})`);
  }
}

/** abar[t] for t = 0..T-1 (cumulative product of 1 - beta). */
export function alphaBars(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let prod = 1;
  betas.forEach((b, i) => {
    prod *= 1 - b;
    out[i] = prod;
  });
  return out;
}

/** The signal-to-noise ratio of x_t: abar_t / (1 - abar_t). */
export function snr(abar: number): number {
  return abar / (1 - abar);
}

/** abar at t, with abar(-1) = 1 (the step past the end of a DDIM sequence). */
export function alphaBarAt(abar: Float64Array, t: number): number {
  if (t === -1) return 1;
  if (!Number.isInteger(t) || t < 0 || t >= abar.length) throw new Error(`diffusion: timestep ${t} outside [-1, ${abar.length})`);
  return abar[t]!;
}

/** Most diffusion timesteps a model may have: every table (betas, alpha-bar, the chain) is O(T). */
export const MAX_TIMESTEPS = 100_000;

/** Validates a diffusion config (types and bounds) before any table of its size is made. */
export function parseDiffusionConfig(raw: unknown, source: string): DiffusionConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: diffusion config must be a JSON object, got ${JSON.stringify(raw)}`);
  }
  const o = { ...DEFAULT_DIFFUSION, ...(raw as Record<string, unknown>) };
  const field = (name: string): string => `${source}: diffusion config field "${name}"`;
  if (!BETA_SCHEDULES.includes(o.beta_schedule as BetaSchedule)) {
    throw new Error(`${field('beta_schedule')} is ${JSON.stringify(o.beta_schedule)}, expected one of ${BETA_SCHEDULES.join(', ')}`);
  }
  const T = o.num_diffusion_timesteps;
  if (typeof T !== 'number' || !Number.isInteger(T) || T < 1 || T > MAX_TIMESTEPS) {
    throw new Error(`${field('num_diffusion_timesteps')} must be an integer in [1, ${MAX_TIMESTEPS}], got ${JSON.stringify(T)}`);
  }
  for (const name of ['beta_start', 'beta_end'] as const) {
    const v = o[name];
    if (typeof v !== 'number' || !(v > 0 && v < 1)) throw new Error(`${field(name)} must be a number in (0, 1), got ${JSON.stringify(v)}`);
  }
  if ((o.beta_start as number) > (o.beta_end as number)) {
    throw new Error(`${source}: diffusion config has beta_start ${o.beta_start} above beta_end ${o.beta_end}`);
  }
  return { beta_schedule: o.beta_schedule as BetaSchedule, beta_start: o.beta_start as number, beta_end: o.beta_end as number, num_diffusion_timesteps: T };
}

/** The diffusion config of a weights file's `__metadata__.diffusion` (the reference defaults when absent). */
export function diffusionFromMetadata(metadata: Record<string, string>, source: string): DiffusionConfig {
  const raw = metadataJson(metadata, 'diffusion', source);
  return raw === undefined ? DEFAULT_DIFFUSION : parseDiffusionConfig(raw, source);
}
