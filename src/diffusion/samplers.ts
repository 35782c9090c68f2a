// One reverse step of each sampler as coefficients of a single update (pure math, float64):
//   x0    = k0 * x_t - k1 * eps                          (the predicted clean image)
//   x0    = clip(x0, -1, 1)                               (when `clip`)
//   eps'  = (x_t - sqrtAt * x0) / sqrt1mAt                (when `useClippedEps`, else eps)
//   x_t-1 = a * x0 + b * x_t + c * noise + d * eps'
// generalized (DDIM, Song et al. eq. 12): a = sqrt(abar_next), b = 0, c = sigma, d = sqrt(1 - abar_next - sigma^2),
//   sigma = eta * sqrt((1 - abar/abar_next) (1 - abar_next) / (1 - abar)).
// ddpm_noisy (Ho et al., ancestral, x0 clipped): beta = 1 - abar/abar_next,
//   a = sqrt(abar_next) beta / (1 - abar), b = sqrt(1 - beta) (1 - abar_next) / (1 - abar),
//   c = sqrt(beta) (0 at t = 0), d = 0.
import { alphaBarAt } from './schedule';

export type SamplerKind = 'generalized' | 'ddpm_noisy';
export const SAMPLERS: readonly SamplerKind[] = ['generalized', 'ddpm_noisy'];

export interface StepCoefficients {
  t: number;
  tNext: number;
  k0: number;
  k1: number;
  sqrtAt: number;
  sqrt1mAt: number;
  a: number;
  b: number;
  c: number;
  d: number;
  clip: boolean;
  useClippedEps: boolean;
}

export interface SamplerOptions {
  sampler: SamplerKind;
  /** DDIM's eta: 0 deterministic, 1 the DDPM-like variance (generalized only). */
  eta: number;
  /** Clip the predicted x0 to [-1, 1] before the update (always on for ddpm_noisy). */
  clipX0: boolean;
  /** With clipX0: re-derive eps from the clipped x0 (diffusers' use_clipped_model_output). */
  useClippedModelOutput: boolean;
}

/** Coefficients for each step, k = 0 the first (noisiest) step: seq walked from its end, next t = previous entry or -1. */
export function stepCoefficients(seq: readonly number[], abar: Float64Array, o: SamplerOptions): StepCoefficients[] {
  if (!(o.eta >= 0)) throw new Error(`sampler: eta must be >= 0, got ${o.eta}`);
  const out: StepCoefficients[] = [];
  for (let k = 0; k < seq.length; k++) {
    const t = seq[seq.length - 1 - k]!;
    const tNext = k === seq.length - 1 ? -1 : seq[seq.length - 2 - k]!;
    const at = alphaBarAt(abar, t);
    const an = alphaBarAt(abar, tNext);
    const base = { t, tNext, k0: 1 / Math.sqrt(at), k1: Math.sqrt(1 / at - 1), sqrtAt: Math.sqrt(at), sqrt1mAt: Math.sqrt(1 - at) };
    if (o.sampler === 'generalized') {
      const sigma = o.eta * Math.sqrt(((1 - at / an) * (1 - an)) / (1 - at));
      const d = Math.sqrt(Math.max(0, 1 - an - sigma * sigma));
      out.push({ ...base, a: Math.sqrt(an), b: 0, c: sigma, d, clip: o.clipX0, useClippedEps: o.clipX0 && o.useClippedModelOutput });
    } else {
      const beta = 1 - at / an;
      out.push({
        ...base,
        a: (Math.sqrt(an) * beta) / (1 - at),
        b: (Math.sqrt(1 - beta) * (1 - an)) / (1 - at),
        c: t === 0 ? 0 : Math.sqrt(beta),
        d: 0,
        clip: true,
        useClippedEps: false,
      });
    }
  }
  return out;
}

/**
 * DDIM inversion (eta = 0 run upwards): coefficients that carry a clean image x (at t = -1) up the
 * sequence to x_T, so that generalized sampling with eta = 0 over the same sequence returns near x.
 * Step i goes from t_cur = seq[i-1] (-1 for i = 0) to seq[i], with eps evaluated at t_cur (at seq[0]
 * for the first step, where the model has no t = -1):
 *   x0 = (x - sqrt(1 - abar_cur) eps) / sqrt(abar_cur);  x_next = sqrt(abar_next) x0 + sqrt(1 - abar_next) eps.
 */
export function inversionCoefficients(seq: readonly number[], abar: Float64Array): StepCoefficients[] {
  return seq.map((tNext, i) => {
    const tCur = i === 0 ? -1 : seq[i - 1]!;
    const at = alphaBarAt(abar, tCur);
    const an = alphaBarAt(abar, tNext);
    return {
      t: i === 0 ? seq[0]! : tCur, tNext,
      k0: 1 / Math.sqrt(at), k1: Math.sqrt(1 / at - 1), sqrtAt: Math.sqrt(at), sqrt1mAt: Math.sqrt(1 - at),
      a: Math.sqrt(an), b: 0, c: 0, d: Math.sqrt(1 - an), clip: false, useClippedEps: false,
    };
  });
}

/**
 * The deterministic DDIM update (eta 0) from abar_t to abar_next written on x_t and eps, for the
 * chains that run on the host (the research experiments, the layered model's chain):
 *   x_next = sqrt(abar_next) x0 + sqrt(1 - abar_next) eps = a x_t + b eps.
 */
export function ddimUpdate(abarT: number, abarNext: number): { a: number; b: number } {
  const a = Math.sqrt(abarNext / abarT);
  return { a, b: Math.sqrt(1 - abarNext) - Math.sqrt(1 - abarT) * a };
}
