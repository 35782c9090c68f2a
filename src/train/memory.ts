// The GPU memory a training configuration needs, known before anything of that size is allocated:
// the UNet is planned at batch 1 (every activation, saved statistic and activation gradient is
// linear in the batch; the backward's scratch is not, and the batch-1 plan says what it is at the
// asked batch), and the five parameter-sized buffers (weights, gradients, Adam m and v, EMA) are
// counted from the layout. Exactly TrainStep.memoryBytes.
import type { UNetConfig } from '../nn/config';
import { numel } from '../gpu/tensor';
import { UNet } from '../nn/unet';

export interface TrainingMemory {
  parameters: number;
  /** Weights, gradients, Adam moments and EMA: five flat buffers. */
  stateBytes: number;
  /** Activations, their gradients and the backward's scratch. */
  activationBytes: number;
  /** An upper bound on the largest single buffer (the adapter's binding limit applies to each). */
  largestBufferBytes: number;
  totalBytes: number;
}

export function trainingMemory(device: GPUDevice, config: UNetConfig, batch: number): TrainingMemory {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch size must be a positive integer, got ${batch}`);
  const one = new UNet(device, config, { batch: 1, grad: true, label: 'memory-plan' });
  one.destroy(); // only its sizes are needed
  const flatBytes = one.layout.totalFloats * 4;
  const stateBytes = 5 * flatBytes;
  // The UNet's own input (x_t) is among its activations; x0 and the noise come on top.
  const scratchBytes = one.scratchFloatsAt(batch) * 4;
  const activationBytes = batch * (one.activationBytes + 2 * numel(one.x.shape) * 4) + scratchBytes;
  return {
    parameters: one.layout.count,
    stateBytes,
    activationBytes,
    largestBufferBytes: Math.max(flatBytes, batch * one.largestActivationBytes, scratchBytes),
    totalBytes: stateBytes + activationBytes,
  };
}

/** Why a configuration cannot train on this adapter (naming the limit), or undefined if it can. */
export function memoryProblem(m: TrainingMemory, limits: { maxStorageBufferBindingSize: number; maxBufferSize: number }): string | undefined {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (m.largestBufferBytes > limit) {
    return `its largest buffer needs ${(m.largestBufferBytes / 2 ** 20).toFixed(1)} MiB, over this adapter's limit of ${(limit / 2 ** 20).toFixed(1)} MiB per buffer (maxStorageBufferBindingSize/maxBufferSize); use a smaller batch or model`;
  }
  return undefined;
}

/** A configuration's memory in words: "1.1M parameters; 123.4 MiB at batch 8 (state 21.3 MiB, activations 102.1 MiB)". */
export function describeMemory(m: TrainingMemory, batch: number): string {
  const MiB = (b: number): string => (b / 2 ** 20).toFixed(1);
  return `${m.parameters.toLocaleString('en-US')} parameters; GPU memory at batch ${batch}: ${MiB(m.totalBytes)} MiB ` +
    `(weights, gradients, Adam, EMA ${MiB(m.stateBytes)} MiB; activations ${MiB(m.activationBytes)} MiB)`;
}
