// The training recipe's schedules, one definition for every trainer (the Train tab, `ddim train`,
// the Research tab's budget run) and the same formulas as tools/train_torch.py, which the recipe
// search measured (README, docs/recipes):
//   learning rate at step k (1-based): linear warmup lr * k / warmup for k <= warmup, then constant,
//     or cosine decay from lr to lr * lrMin over decaySteps (counted from step 1);
//   EMA decay at step k: emaRate, or with EMA warmup min(emaRate, k / (9 + k)) (= (1 + n) / (10 + n)
//     after n = k - 1 earlier updates), so the random initial weights leave the average quickly;
//   loss weight of timestep t: 1, or min-SNR-gamma (Hang et al. 2023) for the eps parameterisation,
//     min(SNR_t, gamma) / SNR_t with SNR_t = abar_t / (1 - abar_t).

import { snr } from '../diffusion/schedule';

export type LrDecay = 'none' | 'cosine';
export type LossWeighting = 'none' | 'min_snr';

export interface RecipeOptions {
  lr: number;
  /** Linear learning-rate warmup over this many steps (0: none). */
  warmupSteps: number;
  lrDecay: LrDecay;
  /** Cosine decay horizon in steps. */
  decaySteps: number;
  /** Cosine decay floor, as a fraction of lr. */
  lrMin: number;
  emaRate: number;
  emaWarmup: boolean;
  lossWeight: LossWeighting;
  snrGamma: number;
}

/**
 * The recipe the search picked (README, "A training recipe that learns in minutes"; docs/recipes):
 * batch 32, lr 2e-3 after 200 warmup steps with cosine decay to 0.2e-3, EMA 0.999 with warmup,
 * min-SNR-5 loss weights. In the search it reached FD 7.8 (DDIM eta 1, 20 steps) after 80,000
 * image-gradient evaluations, where the previous recipe (batch 64, lr 1e-3, fixed EMA, unweighted)
 * needed about 340,000 for FD 10. decaySteps is the run's length where a run sets it.
 */
export const DEFAULT_RECIPE: RecipeOptions & { batch: number } = {
  batch: 32, lr: 2e-3, warmupSteps: 200, lrDecay: 'cosine', decaySteps: 10_000, lrMin: 0.1, emaRate: 0.999, emaWarmup: true, lossWeight: 'min_snr', snrGamma: 5,
};

/**
 * What the recipe search measured for this recipe (docs/recipes/fast_minsnr/curve.csv: the bundled
 * architecture, ch 32, ch_mult 1,2,2, on the 16 px emoji; FD of 384 DDIM eta-1 samples at 20 steps),
 * in image-gradient evaluations (one image through the UNet's forward and backward): samples are noise
 * (FD > 20) before `noiseUntil`, recognisable at `recognisable` (FD 10) and good at `good` (FD 5).
 * Other models and data move these numbers; they are what the page and `ddim train` tell a newcomer.
 */
export const RECIPE_MILESTONES = { noiseUntil: 48_000, recognisable: 72_000, good: 97_000 } as const;

/** What a run that predates these options trained with: the reference's constant lr, fixed EMA and unweighted loss. */
export const PLAIN_SCHEDULES: Omit<RecipeOptions, 'lr' | 'warmupSteps' | 'emaRate'> = { lrDecay: 'none', decaySteps: 1, lrMin: 1, emaWarmup: false, lossWeight: 'none', snrGamma: 5 };

/** Learning rate at (1-based) step k. */
export function learningRate(o: RecipeOptions, k: number): number {
  if (o.warmupSteps > 0 && k <= o.warmupSteps) return (o.lr * k) / o.warmupSteps;
  if (o.lrDecay === 'cosine') {
    const f = Math.min(1, (k - 1) / o.decaySteps);
    const lo = o.lr * o.lrMin;
    return lo + (o.lr - lo) * 0.5 * (1 + Math.cos(Math.PI * f));
  }
  return o.lr;
}

/** EMA decay applied at (1-based) step k. */
export function emaRateAt(o: RecipeOptions, k: number): number {
  return o.emaWarmup ? Math.min(o.emaRate, k / (9 + k)) : o.emaRate;
}

/** The loss weight of every timestep (float64), or undefined for the unweighted loss. */
export function lossWeightOfT(o: RecipeOptions, abar: Float64Array): Float64Array | undefined {
  if (o.lossWeight === 'none') return undefined;
  return abar.map((a) => Math.min(snr(a), o.snrGamma) / snr(a));
}
