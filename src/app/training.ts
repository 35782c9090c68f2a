// The training use case of the time-conditioned model, the same for the Train tab
// (worker/training.ts) and `ddim train`: a run started from fresh weights or resumed from a
// checkpoint, its memory planned and the run refused before any big buffer exists when it does not
// fit this device, and the bounds of a run's length. The adapters keep only what is theirs: where
// checkpoints and loss logs go (IndexedDB or files) and how progress is shown.
import type { DiffusionConfig } from '../diffusion/schedule';
import type { SafetensorsFile } from '../host/tensor';
import type { UNetConfig } from '../nn/config';
import type { ImageDataset } from '../train/data';
import { checkFits, trainingMemory, type TrainingMemory } from '../train/memory';
import { Trainer, type TrainerOptions } from '../train/trainer';

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
