// Training the layered model on the bundled emoji: each mode lowers its loss in a few steps, and the
// written file is a layered model the chain samples from.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import { LayeredChain } from '../../src/research/chain';
import { parseLayered } from '../../src/research/layered';
import { LayeredTrainer, initLayered, type LayeredTrainOptions } from '../../src/research/trainer';
import { DEFAULT_OPTIMIZER } from '../../src/train/step';
import { loadEmoji } from '../../src/train/emoji';
import { loadReference } from '../unit/ref-helpers';
import { useGpu } from './harness';

const gpu = useGpu();
const reference = loadReference('layered4.safetensors');
const model = parseLayered(reference, 'layered4');
const data = loadEmoji(16, 'train', async (f) => new Uint8Array(readFileSync(new URL(`../../public/data/${f}`, import.meta.url))));

const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;

describe('layered training', () => {
  // SwiftShader takes ~10 s per step of three sub-models here: a few steps at batch 2.
  for (const mode of ['layer', 'end2end'] as const) {
    it(`${mode} lowers the loss in a few steps`, { timeout: 400_000 }, async () => {
      const options: LayeredTrainOptions = { ...DEFAULT_OPTIMIZER, lr: 2e-3, emaRate: 0.9, mode, groundTruth: 'D', useTrueXAsX: false, lossWeights: false, batch: 2, seed: 1, randomFlip: true };
      const trainer = new LayeredTrainer(gpu.device, model, options, await data, initLayered(model, 3));
      const totals = (await trainer.trainSteps(5)).map((l) => l.reduce((a, b) => a + b, 0));
      expect(totals.every(Number.isFinite)).toBe(true);
      expect(mean(totals.slice(-2))).toBeLessThan(0.9 * mean(totals.slice(0, 2)));

      // The EMA weights make a layered file the chain samples from.
      const w = await trainer.weights(reference.metadata);
      const file = parseSafetensors(serializeSafetensors(w.tensors, w.metadata), 'trained');
      expect(file.tensors.size).toBe(reference.tensors.size);
      const chain = new LayeredChain(gpu.device, parseLayered(file, 'trained'), 1, false);
      chain.load(file, 'trained');
    });
  }
});
