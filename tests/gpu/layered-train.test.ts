// Training the layered model on the bundled emoji: each mode lowers its loss in a few steps, and the
// written file is a layered model the chain samples from.
import { describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import { readModelFile } from '../../src/app/model-files';
import { LayeredTrainer, initLayered, type LayeredTrainOptions } from '../../src/research/trainer';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer';
import { useGpu } from './harness';
import { data, metadata, model, reference } from './layered-small';

const gpu = useGpu();

const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;

describe('layered training', () => {
  // A few steps at batch 2.
  for (const mode of ['layer', 'end2end'] as const) {
    it(`${mode} lowers the loss in a few steps`, { timeout: 400_000 }, async () => {
      const options: LayeredTrainOptions = { ...DEFAULT_OPTIMIZER, lr: 2e-3, emaRate: 0.9, mode, groundTruth: 'D', useTrueXAsX: false, lossWeights: false, batch: 2, seed: 1, randomFlip: true };
      const trainer = new LayeredTrainer(gpu.device, model, options, await data, initLayered(model, 3));
      const totals = (await trainer.trainSteps(5)).map((l) => l.reduce((a, b) => a + b, 0));
      expect(totals.every(Number.isFinite)).toBe(true);
      expect(mean(totals.slice(-2))).toBeLessThan(0.9 * mean(totals.slice(0, 2)));

      // The EMA weights make a layered file that opens as a model and plans its chain.
      const w = await trainer.weights(metadata);
      const file = parseSafetensors(serializeSafetensors(w.tensors, w.metadata), 'trained');
      expect(file.tensors.size).toBe(reference.tensors.size);
      const opened = readModelFile(file, 'trained');
      expect(opened.fixedChain?.coefficients.map((c) => c.t)).toEqual([750, 500, 250]);
      opened.plan(gpu.device, 1).destroy();
    });
  }

  it('a checkpoint resumes exactly: 2 steps, save, resume, 1 step = 3 steps (end2end with the correction term)', { timeout: 400_000 }, async () => {
    const options: LayeredTrainOptions = { ...DEFAULT_OPTIMIZER, lr: 2e-3, emaRate: 0.9, mode: 'end2end', groundTruth: 'A', useTrueXAsX: false, lossWeights: true, correction: { detach: false }, batch: 2, seed: 4, randomFlip: true };
    const d8 = await data;
    const straight = new LayeredTrainer(gpu.device, model, options, d8, initLayered(model, 3));
    const all = await straight.trainSteps(3);
    const first = new LayeredTrainer(gpu.device, model, options, d8, initLayered(model, 3));
    expect(await first.trainSteps(2)).toEqual(all.slice(0, 2));
    const ckpt = await first.checkpoint(metadata);
    const file = parseSafetensors(serializeSafetensors(ckpt.tensors, ckpt.metadata), 'ckpt');
    const resumed = LayeredTrainer.resume(gpu.device, file, 'ckpt', d8);
    expect(resumed.step).toBe(2);
    expect(resumed.options).toEqual(options);
    expect(await resumed.trainSteps(1)).toEqual(all.slice(2));
    const [a, b] = [await straight.weights(metadata), await resumed.weights(metadata)];
    for (const [name, t] of a.tensors) expect(b.tensors.get(name)!.data, name).toEqual(t.data);
    // Weights alone cannot resume.
    const w = parseSafetensors(serializeSafetensors(a.tensors, a.metadata), 'weights');
    expect(() => LayeredTrainer.resume(gpu.device, w, 'weights', d8)).toThrow(/weights: holds weights but no optimizer state/);
  });
});
