// The GPU memory of training a layered model, before anything is allocated: every trained sub-model
// planned at batch 1 (train/memory.ts), its five parameter-sized buffers counted from the layout, plus
// the images the objective keeps per step. End to end through the chain keeps every step's
// activations for the backward pass, so memory grows with num_block; layer mode runs the sub-models
// one after another but plans them all up front, so it grows alike. An upper bound: each sub-model's
// input, x0 and noise are counted as its own, where the chain shares them.
import { trainingMemory, type TrainingMemory } from '../train/memory';
import type { LayeredModel } from './layered';
import type { LayeredObjective } from './trainer';

export function layeredTrainingMemory(device: GPUDevice, model: LayeredModel, batch: number, objective: Pick<LayeredObjective, 'mode' | 'correction'>): TrainingMemory {
  const trained = model.seq.filter((t) => t > 0);
  const parts = trained.map((t) => trainingMemory(device, model.configs.get(t)!, batch));
  const c = model.configs.get(model.seq[0]!)!;
  const image = batch * c.in_channels * c.resolution * c.resolution * 4;
  const K = trained.length;
  // end2end: x and true x at every point of the chain, d loss / dx per step, and with the correction
  // each step's target and residual gradient; layer: each sub-model's x_t (its own input, counted above).
  const extraImages = objective.mode === 'end2end' ? 2 * (K + 1) + K + (objective.correction ? 2 * K : 0) : 0;
  const stateBytes = parts.reduce((s, p) => s + p.stateBytes, 0);
  const activationBytes = parts.reduce((s, p) => s + p.activationBytes, 0) + extraImages * image;
  return {
    parameters: parts.reduce((s, p) => s + p.parameters, 0),
    stateBytes,
    activationBytes,
    // Parameters, gradients, Adam moments and EMA of all sub-models are one flat buffer each.
    largestBufferBytes: Math.max(stateBytes / 5, ...parts.map((p) => p.largestBufferBytes)),
    totalBytes: stateBytes + activationBytes,
    problems: parts.flatMap((p) => p.problems),
  };
}
