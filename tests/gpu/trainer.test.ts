// The training loop: checkpoints resume exactly (same losses and weights as the uninterrupted run),
// bad checkpoints are refused before anything is written, and a diverging run stops at its first
// non-finite step without a checkpoint.
import { describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import { DEFAULT_DIFFUSION } from '../../src/diffusion/schedule';
import { initParameters } from '../../src/nn/init';
import { paramLayout } from '../../src/nn/params';
import { parameterSpecs } from '../../src/nn/architecture';
import { datasetFromTensor, gatherBatch } from '../../src/train/data';
import { Trainer, checkTrainerOptions } from '../../src/train/trainer';
import { TrainingDiverged } from '../../src/train/loss-ring';
import { useGpu } from './harness';
import { CONFIG, DATA, OPTIONS, expectExactResume, fresh } from './trainer-resume';

const gpu = useGpu();

describe('trainer', () => {
  it('resumes from a checkpoint exactly (the recipe\'s schedules and loss weights included): same loss sequence and weights as the uninterrupted run', async () => {
    await expectExactResume(gpu.device);
  }, 300_000);

  it('refuses a checkpoint with a wrong tensor shape, naming it', async () => {
    const t = fresh(gpu.device);
    const ckpt = await t.checkpoint();
    ckpt.tensors.set('adam_v/conv_in.weight', { shape: [16, 3, 3, 2], data: new Float32Array(288) });
    const file = parseSafetensors(serializeSafetensors(ckpt.tensors, ckpt.metadata), 'bad');
    expect(() => Trainer.fromCheckpoint(gpu.device, file, 'bad.safetensors', DATA))
      .toThrow(/bad\.safetensors: tensor "adam_v\/conv_in\.weight" has shape \[16,3,3,2\], model expects \[16,3,3,3\]/);
    const weightsOnly = parseSafetensors(serializeSafetensors(new Map(), { format: 'ddim-unet' }), 'w');
    expect(() => Trainer.fromCheckpoint(gpu.device, weightsOnly, 'w.safetensors', DATA)).toThrow(/not a training checkpoint/);
  });

  it('stops a diverging run at its first non-finite step and never writes its checkpoint', async () => {
    // lr 1e6 is past checkTrainerOptions' bound (the app and the CLI refuse it): the trainer itself
    // must still notice, since a run can diverge at any learning rate.
    const t = new Trainer(gpu.device, CONFIG, DEFAULT_DIFFUSION, { ...OPTIONS, lr: 1e6, warmupSteps: 0 }, DATA);
    t.loadWeights(initParameters(paramLayout(parameterSpecs(CONFIG)), 3));
    const err = await t.trainSteps(3).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDiverged);
    expect((err as TrainingDiverged).step).toBeGreaterThan(1);
    expect((err as Error).message).toMatch(/^training diverged at step \d+: loss (NaN|-?Infinity|[\d.e+-]+), gradient norm (NaN|Infinity|[\d.e+-]+), loss-scale skip 0; nothing after the last checkpoint is saved/);
    await expect(t.checkpoint()).rejects.toThrow(/^checkpoint at step \d+: tensor "model\/[\w.]+" holds (NaN|-?Infinity) at index \d+; weights must be finite/);
    t.destroy();
  });

  it('validates trainer options in one place, naming the source and the field', () => {
    expect(checkTrainerOptions(OPTIONS, 'x')).toEqual(OPTIONS);
    expect(() => checkTrainerOptions({ ...OPTIONS, lr: 1e6 }, 'ddim train')).toThrow(/^ddim train: lr must be a number in \(0, 1\), got 1000000/);
    expect(() => checkTrainerOptions({ ...OPTIONS, batch: 257 }, 'x')).toThrow(/^x: batch must be an integer in \[1, 256\], got 257/);
    expect(() => checkTrainerOptions({ ...OPTIONS, emaRate: 1 }, 'x')).toThrow(/^x: emaRate must be a number in \[0, 1\), got 1/);
    expect(() => checkTrainerOptions({ ...OPTIONS, warmupSteps: -1 }, 'x')).toThrow(/^x: warmupSteps must be an integer/);
    expect(() => checkTrainerOptions({ ...OPTIONS, randomFlip: 'yes' }, 'x')).toThrow(/^x: randomFlip must be true or false, got "yes"/);
    expect(() => checkTrainerOptions('{', 'ckpt: __metadata__.trainer')).toThrow(/^ckpt: __metadata__\.trainer: trainer options must be a JSON object, got "\{"/);
  });

  it('flips images horizontally when gathering a batch', () => {
    const img = datasetFromTensor('two', { shape: [1, 1, 2, 2], data: Float32Array.of(1, 2, 3, 4) });
    const out = new Float32Array(8);
    gatherBatch(img, [0, 0], [false, true], out);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 2, 1, 4, 3]);
  });
});
