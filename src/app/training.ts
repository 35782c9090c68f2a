// The training use case of the time-conditioned model, the same for the Train tab
// (worker/training.ts) and `ddim train`: a run started from fresh weights or resumed from a
// checkpoint, its memory planned and the run refused before any big buffer exists when it does not
// fit this device, and the bounds of a run's length. The adapters keep only what is theirs: where
// checkpoints and loss logs go (IndexedDB or files) and how progress is shown.
import type { DiffusionConfig } from '../diffusion/schedule';
import type { SafetensorsFile } from '../host/tensor';
import { attentionResolutions, describeConfig, type UNetConfig } from '../nn/config';
import type { ImageDataset } from '../train/data';
import type { RunEnding, RunEntry } from '../store/runs';
import { checkFits, trainingMemory, type TrainingMemory } from '../train/memory';
import { BUNDLED_ARCHITECTURE } from '../nn/presets';
import { RECIPE_MILESTONES } from '../train/recipe';
import { Trainer, type TrainerOptions } from '../train/trainer';
import { countOf, formatDuration } from './progress';
import { bundledEmojiSize } from '../train/emoji';

export interface NewRun {
  config: UNetConfig;
  diffusion: DiffusionConfig;
  /** Validated where they enter (checkTrainerOptions: the Train tab's spec, `ddim train`'s flags), before any GPU work. */
  options: TrainerOptions;
  data: ImageDataset;
}

export interface OpenedRun {
  trainer: Trainer;
  /** What the run holds on the GPU, planned before it was allocated. */
  memory: TrainingMemory;
}

/** Checks a run's length in steps (`what` names it in the error). */
export function checkRunSteps(steps: number, what = 'steps'): number {
  if (!Number.isInteger(steps) || steps < 1 || steps > 1e8) throw new Error(`${what} must be an integer in [1, 10^8], got ${steps}`);
  return steps;
}

/** What a run will cost against what the recipe needs: for the Train tab's line and `ddim train`'s first lines. */
export interface RunExpectation {
  /** Image-gradient evaluations the run will make (steps x batch). */
  evals: number;
  /** The recipe's milestones (RECIPE_MILESTONES), in evaluations. */
  recognisable: number;
  good: number;
  /** Seconds to `recognisable` and to the run's end at `imagesPerSecond`, when a rate is known. */
  secondsToRecognisable?: number;
  secondsForRun?: number;
  /** The run in words: "A recognisable model needs ~72,000 image evaluations …". */
  text: string;
}

/** A training data set in words: "the 16 px emoji", "your images" (the Train tab's), or as given (a folder). */
export function datasetName(id: string): string {
  if (id === 'user') return 'your images';
  const size = bundledEmojiSize(id);
  return size ? `the ${size} px emoji` : id;
}

/**
 * How a run's model and data differ from those the recipe's milestones were measured on (the bundled
 * architecture on the 16 px emoji), in words, or undefined when they are the same.
 */
export function milestoneMismatch(config: UNetConfig, dataset: string): string | undefined {
  const b = BUNDLED_ARCHITECTURE;
  const same = config.ch === b.ch && config.ch_mult.join() === b.ch_mult.join() && config.num_res_blocks === b.num_res_blocks
    && attentionResolutions(config).join() === attentionResolutions(b).join() && config.resolution === b.resolution;
  const parts = [
    ...(same ? [] : [`model (${describeConfig(config)})`]),
    ...(dataset === 'emoji16' ? [] : [`data (${datasetName(dataset)})`]),
  ];
  return parts.length ? `${parts.join(' and ')} ${parts.length > 1 ? 'differ' : 'differs'}` : undefined;
}

/**
 * The expectation of a run of `steps` at `batch` from step `done`, at a measured `imagesPerSecond` (if
 * any); `mismatch` (milestoneMismatch) says where the run is not what the milestones were measured on.
 */
export function runExpectation(steps: number, batch: number, done = 0, imagesPerSecond?: number, mismatch?: string): RunExpectation {
  const { recognisable, good } = RECIPE_MILESTONES;
  const evals = steps * batch, left = Math.max(0, steps - done) * batch, atDone = done * batch;
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const b = BUNDLED_ARCHITECTURE;
  const measured = `the recipe search: the bundled architecture (${describeConfig(b)}) on the emoji${mismatch ? `; this run's ${mismatch}, so take these numbers as a rough guide` : ''}`;
  const parts = [`A recognisable model needs ~${fmt(recognisable)} image evaluations and a good one ~${fmt(good)} (${measured}).`,
    `This run: ${fmt(steps)} steps x batch ${batch} = ${fmt(evals)}${evals < recognisable ? `, ${((100 * evals) / recognisable).toFixed(0)}% of what a recognisable model needs: expect noise` : ''}.`];
  const out: RunExpectation = { evals, recognisable, good, text: '' };
  if (imagesPerSecond !== undefined && imagesPerSecond > 0) {
    out.secondsForRun = left / imagesPerSecond;
    out.secondsToRecognisable = Math.max(0, recognisable - atDone) / imagesPerSecond;
    const rest = `At ${imagesPerSecond.toPrecision(3)} images/s on this adapter the ${done > 0 ? 'rest of the ' : ''}run takes ${formatDuration(out.secondsForRun)}`;
    parts.push(atDone >= recognisable ? `${rest}.` : `${rest}; ${fmt(recognisable)} evaluations would take ${formatDuration(out.secondsToRecognisable)}.`);
  } else {
    parts.push('Its time on this adapter shows once the first steps are measured.');
  }
  out.text = parts.join(' ');
  return out;
}

/** Settings of a run that cannot work as meant, in words (empty when there are none). */
export function runWarnings(steps: number, options: Pick<TrainerOptions, 'warmupSteps' | 'batch'>, dataCount?: number): string[] {
  const w: string[] = [];
  if (options.warmupSteps >= steps) w.push(`Warmup (${options.warmupSteps} steps) is as long as the run (${steps} steps): the learning rate never reaches its value. Lower the warmup or train longer.`);
  if (dataCount === 0) w.push('There are no images of yours yet: add PNG, JPEG or WebP files, or train on the bundled emoji.');
  else if (dataCount !== undefined && dataCount < options.batch) w.push(`The batch (${options.batch}) is larger than the data set (${countOf(dataCount, 'image')}): every step repeats images.`);
  return w;
}

/** Hears the memory plan before the run is refused or allocated (`ddim train` prints it either way). */
export type OnPlan = (memory: TrainingMemory, batch: number) => void;

/** A run from fresh weights (PyTorch's default init, seeded by the options' seed). */
export function startTraining(device: GPUDevice, run: NewRun, onPlan?: OnPlan): OpenedRun {
  const { options } = run;
  const memory = plan(device, run.config, options.batch, onPlan);
  return { trainer: Trainer.fresh(device, run.config, run.diffusion, options, run.data), memory };
}

/** A run continued from a training checkpoint at its step, with its own options (validated). */
export function resumeTraining(device: GPUDevice, file: SafetensorsFile, source: string, data: ImageDataset, onPlan?: OnPlan): OpenedRun {
  const saved = Trainer.saved(file, source);
  const memory = plan(device, saved.config, saved.options.batch, onPlan);
  return { trainer: Trainer.fromCheckpoint(device, file, source, data, saved), memory };
}

function plan(device: GPUDevice, config: UNetConfig, batch: number, onPlan?: OnPlan): TrainingMemory {
  const memory = trainingMemory(device, config, batch);
  onPlan?.(memory, batch);
  checkFits(memory, device.limits, 'this model', batch);
  return memory;
}

/** The steps of a run the dynamic loss scale skipped (reduced tiers: their scaled gradients overflowed
 *  f16), as the Train tab and `ddim train` say it; '' for none. */
export function lossScaleSkipsText(skipped: number): string {
  if (skipped <= 0) return '';
  return `${skipped.toLocaleString('en-US')} step${skipped === 1 ? '' : 's'} skipped by the loss scale (f16 overflow)`;
}

/** What Resume does for a run that is not training now (its progress as last reported or stored:
 *  paused, stopped, ended by an error, or interrupted by the page going away), as the Train tab's
 *  status line ends; '' for a run that runs or is done. */
export function resumeText(p: { state: string; step: number; savedStep: number }): string {
  if (p.state === 'done' || p.state === 'running') return '';
  if (p.savedStep === 0) return ' · it ended before its first checkpoint: nothing to resume (Pause saves one; Stop keeps only checkpoints saved already), Train starts a new run';
  if (p.state === 'interrupted') return ` · the page was closed or reloaded while it trained: Resume continues it from step ${p.savedStep}, its last checkpoint`;
  const why = p.state === 'stopped' ? ': Stop keeps the last checkpoint, Pause saves one' : '';
  const unsaved = p.step === p.savedStep + 1 ? `step ${p.step} was` : `steps ${p.savedStep + 1}-${p.step} were`;
  const lost = p.step > p.savedStep ? ` (${unsaved} not saved${why})` : '';
  return ` · Resume continues it from step ${p.savedStep}${lost}`;
}

/** A stored run as its last session left it, for the Train tab after a reload: how it ended, the
 *  step it had trained to, and the step it saved (where Resume continues). Entries stored before
 *  `ended` was kept: one with a checkpoint waits to be resumed, one without has nothing to resume. */
export function storedState(run: Pick<RunEntry, 'step' | 'targetSteps' | 'checkpointKey' | 'ended'>): { state: 'done' | RunEnding; step: number; savedStep: number } {
  if (run.step >= run.targetSteps) return { state: 'done', step: run.step, savedStep: run.step };
  if (run.ended) return { state: run.ended.how, step: Math.max(run.ended.step, run.step), savedStep: run.step };
  return { state: run.checkpointKey ? 'paused' : 'stopped', step: run.step, savedStep: run.step };
}
