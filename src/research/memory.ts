// The GPU memory of training a layered model, known before anything is allocated: a dry run of the
// real planner (LayeredTrainer: every trained sub-model's plan, the chain's images and targets, the
// flat parameter, gradient, Adam and EMA buffers), counted as train/memory.ts counts a TrainStep. So
// the estimate is what the trainer then allocates, byte for byte. It plans with the weights the run
// will start from (the planner validates them), so they are made once for both.
import type { HostTensor } from '../host/tensor';
import { datasetFromTensor } from '../train/data';
import { plannedMemory, type TrainingMemory } from '../train/memory';
import type { LayeredModel } from './layered';
import { LayeredTrainer, type LayeredTrainOptions } from './trainer';

export function layeredTrainingMemory(device: GPUDevice, model: LayeredModel, options: LayeredTrainOptions, initial: Map<string, HostTensor>): TrainingMemory {
  if (!Number.isInteger(options.batch) || options.batch < 1) throw new Error(`batch size must be a positive integer, got ${options.batch}`);
  const c = model.configs.get(model.seq[0]!)!;
  // The planner reads only the images' shape before training starts.
  const shape = [1, c.in_channels, c.resolution, c.resolution];
  const data = datasetFromTensor('memory plan', { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  return plannedMemory(() => {
    const trainer = new LayeredTrainer(device, model, options, data, initial);
    return { parameters: trainer.parameters, stateBufferBytes: trainer.stateBufferBytes };
  });
}
