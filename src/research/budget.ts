// Experiment 3, the budget comparison: a time-conditioned UNet (the DDPM loss) with the previous
// recipe ("time": constant lr, fixed EMA, unweighted loss) and with the recipe the search picked
// ("recipe", train/recipe.ts), a layered model trained per step ("layer") and one trained end to
// end through the chain ("end2end"), on the same data and the same number of image-gradient
// evaluations (one UNet forward and backward for one image: a time-conditioned step costs `batch`, a layered step `batch` x its K sub-models). At evenly
// spaced points of the budget each arm's EMA weights sample `samples` images over the same chain
// (seq of the layered model, eta 0) and are scored by the Fréchet distance of pooled pixels against
// held-out images; training time is the wall time of its steps alone (sampling not counted).
import { alphaBars, betaSchedule, type DiffusionConfig } from '../diffusion/schedule';
import type { SetMeasure } from '../eval/sets';
import type { UNetConfig } from '../nn/config';
import type { ImageDataset } from '../train/data';
import { DEFAULT_OPTIMIZER, type OptimizerOptions } from '../train/optimizer';
import { Trainer } from '../train/trainer';
import { trainUntil, type SteppedTrainer } from '../train/loop';
import { DEFAULT_RECIPE, PLAIN_SCHEDULES } from '../train/recipe';
import { checkFits, trainingMemory, type TrainingMemory } from '../train/memory';
import { layeredTrainingMemory } from './memory';
import { ChainDenoiser, sampleWithFirstStep, type StepDenoiser } from './experiments';
import { unetStepModel } from '../engine/step-model';
import { UNet } from '../nn/unet';
import { LayeredStepModel } from './layered-step';
import { parseLayered, type LayeredModel } from './layered';
import type { HostTensor, SafetensorsFile } from '../host/tensor';
import { LayeredTrainer, initLayered } from './trainer';

export type ArmKind = 'time' | 'recipe' | 'layer' | 'end2end';
export const ARM_KINDS: readonly ArmKind[] = ['time', 'recipe', 'layer', 'end2end'];

export interface BudgetArm extends SteppedTrainer<number> {
  kind: ArmKind;
  parameters: number;
  evalsPerStep: number;
  /** Runs n steps; the mean loss per step (summed over sub-models or chain steps). */
  trainSteps(n: number): Promise<number>;
  /** Samples with the current EMA weights. */
  denoiser: StepDenoiser;
  /** The run as a file: a training checkpoint (time) or a layered checkpoint. */
  checkpoint(): Promise<{ tensors: Map<string, HostTensor>; metadata: Record<string, string> }>;
  /** Frees the arm's GPU buffers (its trainer and its sampling plan). */
  destroy(): void;
}

export interface BudgetSettings {
  /** Image-gradient evaluations per arm. */
  evals: number;
  /** Evaluation points, evenly spaced over the budget. */
  points: number;
  /** Samples per evaluation. */
  samples: number;
  seed: number;
  optimizer: OptimizerOptions;
  timeBatch: number;
  /** Batch of the recipe arm (its lr, EMA and loss weighting are DEFAULT_RECIPE's). */
  recipeBatch: number;
  layeredBatch: number;
}

export const DEFAULT_BUDGET: BudgetSettings = {
  evals: 100_000, points: 5, samples: 64, seed: 0,
  optimizer: { ...DEFAULT_OPTIMIZER, lr: 1e-3, emaRate: 0.999 }, timeBatch: 64, recipeBatch: DEFAULT_RECIPE.batch, layeredBatch: 16,
};

export interface BudgetPoint {
  arm: ArmKind;
  parameters: number;
  step: number;
  evals: number;
  trainSeconds: number;
  /** Mean training loss over the steps since the previous point. */
  loss: number;
  fd: number;
}

/** Evaluations of one training step of an arm: its batch, times the trained sub-models of a layered arm. */
export function evalsPerStep(kind: ArmKind, s: BudgetSettings, layered: LayeredModel): number {
  return kind === 'time' ? s.timeBatch : kind === 'recipe' ? s.recipeBatch : s.layeredBatch * (layered.seq.length - 1);
}

/** Builds one arm: fresh weights (seeded), its trainer, and a denoiser that reads the trainer's EMA. */
export function budgetArm(
  device: GPUDevice, kind: ArmKind, s: BudgetSettings, data: ImageDataset,
  models: { time: UNetConfig; diffusion: DiffusionConfig; layered: SafetensorsFile },
): BudgetArm {
  const layered = parseLayered(models.layered, 'layered config');
  const refuse = (m: TrainingMemory, batch: number): void => checkFits(m, device.limits, `the ${kind} arm`, batch);
  if (kind === 'time' || kind === 'recipe') {
    const batch = kind === 'time' ? s.timeBatch : s.recipeBatch;
    refuse(trainingMemory(device, models.time, batch), batch);
    // The recipe's lr decays over the budget's steps, as a run of that length would.
    const options = kind === 'time'
      ? { ...s.optimizer, ...PLAIN_SCHEDULES, batch, seed: s.seed, randomFlip: true, warmupSteps: 0 }
      : { ...s.optimizer, ...DEFAULT_RECIPE, batch, seed: s.seed, randomFlip: true, decaySteps: Math.max(1, Math.floor(s.evals / batch)) };
    const trainer = Trainer.fresh(device, models.time, models.diffusion, options, data);
    const abar = alphaBars(betaSchedule(models.diffusion));
    const denoiser = new ChainDenoiser(device, unetStepModel(new UNet(device, models.time, { batch: Math.min(s.samples, 64), params: trainer.train.ema, label: 'time denoiser' })), abar, layered.seq);
    return {
      kind, parameters: trainer.train.net.layout.count, evalsPerStep: evalsPerStep(kind, s, layered),
      trainSteps: async (n) => (await trainer.trainSteps(n)).reduce((a, b) => a + b, 0) / n,
      get step() {
        return trainer.step;
      },
      denoiser,
      checkpoint: () => trainer.checkpoint(),
      destroy: () => {
        denoiser.model.destroy();
        trainer.destroy();
      },
    };
  }
  const options = { ...s.optimizer, mode: kind, groundTruth: 'D' as const, useTrueXAsX: false, lossWeights: false, batch: s.layeredBatch, seed: s.seed, randomFlip: true };
  const initial = initLayered(layered, s.seed);
  refuse(layeredTrainingMemory(device, layered, options, initial), s.layeredBatch);
  const trainer = new LayeredTrainer(device, layered, options, data, initial);
  const denoiser = new ChainDenoiser(device, new LayeredStepModel(device, layered, Math.min(s.samples, 64), (t) => trainer.emaStore(t)), layered.abar, layered.seq);
  return {
    kind, parameters: trainer.parameters, evalsPerStep: evalsPerStep(kind, s, layered),
    trainSteps: async (n) => (await trainer.trainSteps(n)).reduce((a, l) => a + l.reduce((x, y) => x + y, 0), 0) / n,
    get step() {
      return trainer.step;
    },
    denoiser,
    checkpoint: () => trainer.checkpoint(models.layered.metadata),
    destroy: () => {
      denoiser.model.destroy();
      trainer.destroy();
    },
  };
}

/** What runArm tells its caller and asks it, besides the points. */
export interface ArmWatch {
  /** Ends the arm between chunks (the points so far stay). */
  stopped?: () => boolean;
  /** After every chunk: the arm's step and its total steps. */
  onSteps?: (step: number, totalSteps: number) => void;
  /** Chunks of about this many seconds (train/loop.ts Chunking), so a page's Stop lands within a step's time. */
  chunkSeconds?: number;
}

/** The steps of an arm's budget: whole steps of `evalsPerStep` evaluations; refused, naming the arm,
 *  when they are fewer than its points (checked for every arm before any trains). */
export function armSteps(s: BudgetSettings, kind: ArmKind, evalsPerStep: number): number {
  const steps = Math.floor(s.evals / evalsPerStep);
  if (steps < s.points) throw new Error(`budget: ${s.evals} evaluations are ${steps} steps of the ${kind} arm (${evalsPerStep} per step), fewer than ${s.points} points`);
  return steps;
}

/** Trains the arm through the budget, scoring it at each point; `onPoint` sees every point as it lands. */
export async function runArm(arm: BudgetArm, s: BudgetSettings, measure: SetMeasure, onPoint: (p: BudgetPoint) => void | Promise<void>, watch: ArmWatch = {}): Promise<BudgetPoint[]> {
  const { stopped = () => false, onSteps, chunkSeconds } = watch;
  const totalSteps = armSteps(s, arm.kind, arm.evalsPerStep);
  const out: BudgetPoint[] = [];
  let seconds = 0;
  for (let p = 1; p <= s.points && !stopped(); p++) {
    const target = Math.round((totalSteps * p) / s.points);
    let lossSum = 0, steps = 0;
    await trainUntil(arm, target, { most: () => 50, ...(chunkSeconds !== undefined ? { seconds: chunkSeconds } : {}) }, (c) => {
      lossSum += c.losses * c.steps;
      seconds += c.seconds;
      steps += c.steps;
      onSteps?.(arm.step, totalSteps);
    }, stopped);
    if (steps === 0 || stopped()) break;
    const { final } = await sampleWithFirstStep(arm.denoiser, s.samples, s.seed + 1);
    const point: BudgetPoint = {
      arm: arm.kind, parameters: arm.parameters, step: arm.step, evals: arm.step * arm.evalsPerStep, trainSeconds: seconds,
      loss: lossSum / steps, fd: measure.fd(final),
    };
    out.push(point);
    await onPoint(point);
  }
  return out;
}

export const BUDGET_CSV_HEADER = 'arm,parameters,step,evals,train_seconds,loss,fd';

export function budgetCsvRow(p: BudgetPoint): string {
  return [p.arm, p.parameters, p.step, p.evals, p.trainSeconds.toFixed(3), p.loss.toPrecision(6), p.fd.toPrecision(6)].join(',');
}
