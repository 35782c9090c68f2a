// The training recipe's schedules (src/train/recipe.ts) against the PyTorch trainer's own functions
// (tools/train_torch.py, written to tests/fixtures/recipe.json by tools/make_fixtures.py): learning
// rate with warmup and cosine decay, EMA decay with warmup, min-SNR loss weights; and the options'
// validation, where a checkpoint from before the recipe options trains on as it did.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alphaBars, betaSchedule, DEFAULT_DIFFUSION } from '../../src/diffusion/schedule';
import { PLAIN_SCHEDULES, emaRateAt, learningRate, lossWeightOfT, type RecipeOptions } from '../../src/train/recipe';
import { checkTrainerOptions } from '../../src/train/trainer';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/recipe.json', import.meta.url), 'utf8')) as {
  schedules: {
    recipe: { lr: number; warmup: number; decay_steps: number; lr_min: number; ema: number; snr_gamma: number };
    steps: number[]; lr: number[]; ema: number[]; t: number[]; min_snr_weight: number[];
  };
};
const f = fixture.schedules;
const recipe: RecipeOptions = {
  lr: f.recipe.lr, warmupSteps: f.recipe.warmup, lrDecay: 'cosine', decaySteps: f.recipe.decay_steps, lrMin: f.recipe.lr_min,
  emaRate: f.recipe.ema, emaWarmup: true, lossWeight: 'min_snr', snrGamma: f.recipe.snr_gamma,
};

describe('the recipe schedules match tools/train_torch.py', () => {
  it('learning rate and EMA decay at every listed step (torch counts from 0, the engine from 1)', () => {
    f.steps.forEach((s, i) => {
      expect(learningRate(recipe, s + 1), `lr at step ${s}`).toBeCloseTo(f.lr[i]!, 15);
      expect(emaRateAt(recipe, s + 1), `ema at step ${s}`).toBeCloseTo(f.ema[i]!, 15);
    });
  });

  it('min-SNR weights of the linear schedule', () => {
    const w = lossWeightOfT(recipe, alphaBars(betaSchedule(DEFAULT_DIFFUSION)))!;
    // train_torch takes SNR from a float32 alpha-bar: 1 - abar near t = 0 (abar = 0.9999) keeps only
    // ~4 significant digits there, the engine's float64 all of them.
    f.t.forEach((t, i) => expect(Math.abs(w[t]! - f.min_snr_weight[i]!) / f.min_snr_weight[i]!, `t = ${t}`).toBeLessThan(t < 100 ? 3e-4 : 1e-6));
    expect(lossWeightOfT({ ...recipe, lossWeight: 'none' }, new Float64Array(3))).toBeUndefined();
  });

  it('the plain schedules are the reference recipe: constant lr after warmup, fixed EMA', () => {
    const plain = { ...recipe, ...PLAIN_SCHEDULES };
    expect([1, 200, 201, 50_000].map((k) => learningRate(plain, k))).toEqual([1e-5, 2e-3, 2e-3, 2e-3]);
    expect([1, 50_000].map((k) => emaRateAt(plain, k))).toEqual([0.999, 0.999]);
  });
});

describe('recipe options', () => {
  const base = { ...DEFAULT_OPTIMIZER, batch: 8, seed: 0, randomFlip: true, warmupSteps: 0 };

  it('a checkpoint written before the recipe options resumes with the plain schedules', () => {
    expect(checkTrainerOptions(base, 'old.safetensors')).toEqual({ ...base, ...PLAIN_SCHEDULES });
  });

  it('names the field and the allowed values of a bad option', () => {
    expect(() => checkTrainerOptions({ ...base, lrDecay: 'linear' }, 'ckpt')).toThrow(/ckpt: lrDecay must be one of none, cosine, got "linear"/);
    expect(() => checkTrainerOptions({ ...base, lossWeight: 'p2' }, 'ckpt')).toThrow(/ckpt: lossWeight must be one of none, min_snr/);
    expect(() => checkTrainerOptions({ ...base, emaWarmup: 'yes' }, 'ckpt')).toThrow(/ckpt: emaWarmup must be true or false/);
    expect(() => checkTrainerOptions({ ...base, decaySteps: 0 }, 'ckpt')).toThrow(/ckpt: decaySteps must be an integer in \[1, 10\^8\]/);
    expect(() => checkTrainerOptions({ ...base, snrGamma: -1 }, 'ckpt')).toThrow(/ckpt: snrGamma must be a number in \(0, 10\^4\]/);
  });
});
