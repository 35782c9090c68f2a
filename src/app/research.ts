// The research experiments' use cases, the same for the Research tab (worker/research.ts) and
// `ddim research` (cli/experiments.ts): a model as a step denoiser over its chain, and the limits of
// each experiment, checked in one place before anything runs.
import type { BudgetSettings } from '../research/budget';
import { ChainDenoiser, chainSeq, type StepDenoiser } from '../research/experiments';
import { MAX_TRAIN_BATCH } from '../train/trainer';
import { modelAbar, type ModelFile } from './model-files';
import { MAX_SAMPLE_BATCH, checkSeed } from './sampling';

/** Images of experiment 1 (one batch of held-out images), samples of experiment 2 (in batches of MAX_SAMPLE_BATCH). */
export const MAX_ONE_SHOT_IMAGES = MAX_SAMPLE_BATCH;
export const MAX_FIRST_STEP_SAMPLES = 1024;
/** Steps of a time-conditioned model's chain in the experiments: range(0, T, T // numBlock). */
export const NUM_BLOCK_RANGE = [2, 100] as const;

/**
 * A model file as a denoiser of `batch` images over its chain, weights loaded: a layered model over
 * its own, any other over range(0, T, T // numBlock).
 */
export function experimentDenoiser(device: GPUDevice, m: ModelFile, numBlock: number, batch: number): StepDenoiser {
  const abar = modelAbar(m);
  return new ChainDenoiser(device, m.plan(device, batch), abar, m.fixedChain?.seq ?? chainSeq(abar.length, numBlock));
}

/** The one image size of the compared models; refuses models of different sizes. */
export function commonResolution(ds: readonly StepDenoiser[]): number {
  const sizes = new Set(ds.map((d) => d.resolution));
  if (sizes.size !== 1) throw new Error(`the models take different image sizes (${[...sizes].join(', ')} px); compare models of one size`);
  return [...sizes][0]!;
}

const intIn = (v: number, lo: number, hi: number, what: string): void => {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${what} must be an integer in [${lo}, ${hi}], got ${v}`);
};

/** Seeds an experiment may repeat over (for the spread of its numbers). */
export const MAX_SEEDS = 5;

/**
 * Image evaluations (one image through one UNet forward) experiment 1 or 2 runs, for models of
 * `chainSteps` steps each: per seed, experiment 1 runs a chain of k steps from every step k of a
 * model's chain on its n images, experiment 2 one whole chain on its n samples. The Research tab's
 * cost line and the job's count (worker/research.ts) both use it.
 */
export function experimentEvaluations(kind: 'oneshot' | 'firststep', chainSteps: readonly number[], n: number, seeds: number): number {
  return seeds * chainSteps.reduce((sum, K) => sum + (kind === 'oneshot' ? (K * (K + 1)) / 2 : K) * n, 0);
}

/** Experiments 1 and 2: how many images, the time-conditioned chain's steps, the seeds. */
export function checkExperiment(kind: 'oneshot' | 'firststep', n: number, numBlock: number, seed: number, seeds = 1): void {
  if (kind === 'oneshot') intIn(n, 2, MAX_ONE_SHOT_IMAGES, 'the number of held-out images (a covariance needs two)');
  else intIn(n, 2, MAX_FIRST_STEP_SAMPLES, 'the number of samples (a covariance needs two)');
  intIn(numBlock, NUM_BLOCK_RANGE[0], NUM_BLOCK_RANGE[1], 'steps of the chain (num_block)');
  intIn(seeds, 1, MAX_SEEDS, 'the number of seeds');
  checkSeed(seed);
  checkSeed(seed + seeds - 1);
}

/** Experiment 3's settings: the budget, its points and samples, every arm's batch and the shared optimizer. */
export function checkBudget(s: BudgetSettings): void {
  intIn(s.evals, 1, 1e9, 'evaluations per arm');
  intIn(s.points, 1, 100, 'points');
  intIn(s.samples, 2, MAX_FIRST_STEP_SAMPLES, 'samples per point');
  for (const [what, b] of [['the time arm\'s batch', s.timeBatch], ['the recipe arm\'s batch', s.recipeBatch], ['the layered arms\' batch', s.layeredBatch]] as const) intIn(b, 1, MAX_TRAIN_BATCH, what);
  if (!(s.optimizer.lr > 0 && s.optimizer.lr < 1)) throw new Error(`lr must be a number in (0, 1), got ${s.optimizer.lr}`);
  if (!(s.optimizer.emaRate >= 0 && s.optimizer.emaRate < 1)) throw new Error(`EMA rate must be a number in [0, 1), got ${s.optimizer.emaRate}`);
  checkSeed(s.seed);
}
