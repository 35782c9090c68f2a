// A small trainer with the recipe's schedules on, and the check that a run resumes exactly from its
// checkpoint: shared by the trainer's tests (fp32) and the precision tiers' (tests/gpu/tier.test.ts).
import { expect } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import { alphaBars, betaSchedule, DEFAULT_DIFFUSION } from '../../src/diffusion/schedule';
import { parseConfig } from '../../src/nn/config';
import { initParameters } from '../../src/nn/init';
import { paramLayout } from '../../src/nn/params';
import { parameterSpecs } from '../../src/nn/architecture';
import { datasetFromTensor } from '../../src/train/data';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer';
import { lossWeightOfT } from '../../src/train/recipe';
import { readTensor } from '../../src/gpu/tensor';
import { Trainer, type TrainerOptions } from '../../src/train/trainer';
import { randomTensor } from './harness';

export const CONFIG = parseConfig({
  ch: 16, out_ch: 3, ch_mult: [1, 2], num_res_blocks: 1, attn_resolutions: [4], dropout: 0.1,
  in_channels: 3, resolution: 8, norm_groups: 'auto',
});
// The recipe's schedules on (they travel in the checkpoint and must resume exactly too).
export const OPTIONS: TrainerOptions = {
  ...DEFAULT_OPTIMIZER, lr: 1e-3, batch: 2, seed: 42, randomFlip: true, warmupSteps: 2,
  lrDecay: 'cosine', decaySteps: 4, lrMin: 0.1, emaWarmup: true, lossWeight: 'min_snr', snrGamma: 5,
};
export const DATA = datasetFromTensor('synthetic', randomTensor([6, 3, 8, 8], 5));

export function fresh(device: GPUDevice): Trainer {
  const t = new Trainer(device, CONFIG, DEFAULT_DIFFUSION, OPTIONS, DATA);
  t.loadWeights(initParameters(paramLayout(parameterSpecs(CONFIG)), 3));
  return t;
}

/** 2 `half` steps straight, and `half`, a checkpoint, `half` more: the same losses and EMA weights.
 *  With half = 2 (the default) the warmup, the cosine decay and the EMA warmup all change in between. */
export async function expectExactResume(device: GPUDevice, half = 2) {
  const straight = fresh(device);
  const all = await straight.trainSteps(2 * half);
  expect(all.every(Number.isFinite)).toBe(true);
  // The recipe reached the GPU: the last step's per-sample min-SNR weights of its timesteps.
  const weightOfT = lossWeightOfT(OPTIONS, alphaBars(betaSchedule(DEFAULT_DIFFUSION)))!;
  const [ts, w] = [await readTensor(device, straight.train.net.t), await readTensor(device, straight.train.lossWeights)];
  expect(Array.from(w)).toEqual(Array.from(ts, (tb) => Math.fround(weightOfT[tb]!)));
  expect(straight.learningRate(3)).toBeCloseTo(1e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.5))), 12);

  const first = fresh(device);
  expect(await first.trainSteps(half)).toEqual(all.slice(0, half));
  const ckpt = await first.checkpoint();
  const file = parseSafetensors(serializeSafetensors(ckpt.tensors, ckpt.metadata), 'ckpt');
  const resumed = Trainer.fromCheckpoint(device, file, 'ckpt.safetensors', DATA);
  expect(resumed.step).toBe(half);
  expect(await resumed.trainSteps(half)).toEqual(all.slice(half));
  const [a, b] = [await straight.train.ema.read(), await resumed.train.ema.read()];
  for (const [name, t] of a) expect(b.get(name)!.data, name).toEqual(t.data);
  return ckpt;
}
