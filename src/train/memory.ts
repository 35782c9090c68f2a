// The GPU memory a training configuration needs, known before anything is allocated: a dry run of
// the real planner (gpu/owner.ts), which builds the whole training step at the asked batch (the UNet's
// activations, gradients and backward scratch; weights, gradients, Adam moments, EMA; the loss and
// optimizer buffers, every uniform block) with placeholders instead of GPU buffers and counts them.
// So the estimate is what a real TrainStep allocates, byte for byte, and a limit the plan would hit
// is reported instead of thrown.
import { GpuOwner } from '../gpu/owner';
import type { UNetConfig } from '../nn/config';
import { TrainStep } from './step';
import { DEFAULT_OPTIMIZER } from './optimizer';

export interface TrainingMemory {
  parameters: number;
  /** Weights, gradients, Adam moments and EMA: five flat buffers. */
  stateBytes: number;
  /** Everything else: activations, their gradients, the backward's scratch, inputs, uniforms. */
  activationBytes: number;
  /** The largest single buffer (the adapter's binding limit applies to each). */
  largestBufferBytes: number;
  totalBytes: number;
  /** Other limits of this adapter the plan exceeds (workgroup counts), in words. */
  problems: string[];
}

/**
 * The memory of a training plan by a dry run of it: `plan` builds the real planner inside a dry scope
 * and returns its parameter count and the bytes of one of its five parameter-sized state buffers
 * (weights, gradients, two Adam moments, EMA, all of one layout).
 */
export function plannedMemory(plan: () => { parameters: number; stateBufferBytes: number }): TrainingMemory {
  const dry = new GpuOwner('memory-plan', { dry: true });
  try {
    const { parameters, stateBufferBytes } = dry.run(plan);
    const totalBytes = dry.bytes;
    const stateBytes = 5 * stateBufferBytes;
    return { parameters, stateBytes, activationBytes: totalBytes - stateBytes, largestBufferBytes: dry.largestBuffer, totalBytes, problems: dry.problems };
  } finally {
    dry.destroy();
  }
}

export function trainingMemory(device: GPUDevice, config: UNetConfig, batch: number): TrainingMemory {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch size must be a positive integer, got ${batch}`);
  return plannedMemory(() => {
    const step = new TrainStep(device, config, batch, DEFAULT_OPTIMIZER, 'memory-plan');
    return { parameters: step.net.layout.count, stateBufferBytes: step.net.params.flat.buffer.size };
  });
}

/** Why a configuration cannot train on this adapter (naming the limit), or undefined if it can. */
export function memoryProblem(m: TrainingMemory, limits: { maxStorageBufferBindingSize: number; maxBufferSize: number }): string | undefined {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (m.largestBufferBytes > limit) {
    return `its largest buffer needs ${(m.largestBufferBytes / 2 ** 20).toFixed(1)} MiB, over this adapter's limit of ${(limit / 2 ** 20).toFixed(1)} MiB per buffer (maxStorageBufferBindingSize/maxBufferSize); use a smaller batch or model`;
  }
  return m.problems[0];
}

/** Refuses a plan this adapter cannot hold, before any big buffer exists: "`what` cannot train at batch B here: …". */
export function checkFits(m: TrainingMemory, limits: { maxStorageBufferBindingSize: number; maxBufferSize: number }, what: string, batch: number): void {
  const problem = memoryProblem(m, limits);
  if (problem) throw new Error(`${what} cannot train at batch ${batch} here: ${problem}`);
}

/** A configuration's memory in words: "1.1M parameters; 123.4 MiB at batch 8 (state 21.3 MiB, activations 102.1 MiB)". */
export function describeMemory(m: TrainingMemory, batch: number): string {
  const MiB = (b: number): string => (b / 2 ** 20).toFixed(1);
  return `${m.parameters.toLocaleString('en-US')} parameters; GPU memory at batch ${batch}: ${MiB(m.totalBytes)} MiB ` +
    `(weights, gradients, Adam, EMA ${MiB(m.stateBytes)} MiB; activations ${MiB(m.activationBytes)} MiB)`;
}
