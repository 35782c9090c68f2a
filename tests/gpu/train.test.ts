// One full training step on WebGPU vs the PyTorch golden: loss, every gradient, the Adam step, EMA.
import { describe, it } from 'vitest';
import { readTensors, upload } from '../../src/gpu/tensor';
import { withErrorScopes } from '../../src/gpu/kernel';
import { getTensor } from '../../src/io/safetensors';
import { alphaBars, betaSchedule, DEFAULT_DIFFUSION } from '../../src/diffusion/schedule';
import { configFromMetadata } from '../../src/nn/config';
import { TrainStep } from '../../src/train/step';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer';
import { loadReference } from '../unit/ref-helpers';
import { useGpu } from './harness';
import { expectTrainGolden } from './train-golden';

const gpu = useGpu();

describe('training step on WebGPU', () => {
  it('reproduces unet-tiny.train: loss, gradients, clip + Adam, EMA', async () => {
    const d = gpu.device;
    const weights = loadReference('unet-tiny.safetensors');
    const golden = loadReference('unet-tiny.train.safetensors');
    const x0 = getTensor(golden, 'x0');
    const step = new TrainStep(d, configFromMetadata(weights.metadata, 'unet-tiny'), x0.shape[0]!, DEFAULT_OPTIMIZER);
    const initial = step.net.params.pack(weights, 'unet-tiny');
    upload(d, step.net.params.flat, initial);
    upload(d, step.ema.flat, initial);
    upload(d, step.x0, x0.data);
    upload(d, step.noise, getTensor(golden, 'noise').data);
    step.setTimesteps(getTensor(golden, 't').data, alphaBars(betaSchedule(DEFAULT_DIFFUSION)));
    await withErrorScopes(d, 'train step', () => {
      const encoder = d.createCommandEncoder();
      step.encode(encoder, 1);
      d.queue.submit([encoder.finish()]);
    });
    const [loss, norm] = await readTensors(d, [step.loss, step.gradNorm]);
    expectTrainGolden({
      loss: loss![0]!, gradNorm: norm![0]!,
      grads: await step.net.grads!.read(), step1: await step.net.params.read(), ema1: await step.ema.read(),
    });
  });
});
