// Optimizer references: Adam against a hand computation in the textbook form (bias-corrected moments)
// and against the PyTorch training step in unet-tiny.train.safetensors, plus global norm, clipping
// and EMA.

import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import { adamStep, clipScale, emaUpdate, globalNorm, type AdamOptions } from '../../src/ref/optim';
import { expectClose, loadReference } from './ref-helpers';

describe('adamStep', () => {
  const opts: AdamOptions = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

  it('first step moves each parameter by about lr against the gradient sign', () => {
    // m = 0.1 g, v = 0.001 g^2, so m / (1 - 0.9) = g and sqrt(v / (1 - 0.999)) = |g|.
    const p = Float32Array.of(1, -2, 0.5);
    const g = Float32Array.of(0.5, -3, 1e-3);
    const m = new Float32Array(3);
    const v = new Float32Array(3);
    adamStep(p, g, m, v, 1, opts);
    expectClose(m, Float32Array.of(0.05, -0.3, 1e-4), 0, 1e-6, 'm after step 1');
    expectClose(v, Float32Array.of(0.5 * 0.5 * 1e-3, 9e-3, 1e-9), 0, 1e-6, 'v after step 1');
    // eps only shows where |g| is small: 0.1 * 1e-3 / (1e-3 + 1e-8) falls 1e-6 short of lr.
    expectClose(p, Float32Array.of(0.9, -1.9, 0.5 - 0.1 * (1e-3 / (1e-3 + 1e-8))), 1e-7, 0, 'p after step 1');
    expect(Array.from(g), 'the gradient is not modified').toEqual([0.5, -3, Math.fround(1e-3)]);
  });

  it('two steps with weight decay match the textbook form', () => {
    const withDecay: AdamOptions = { ...opts, weightDecay: 0.01 };
    const p0 = [1, -2, 0.5, 0];
    const grads = [
      [0.5, -3, 1e-3, 0.2],
      [-0.25, -1, 2e-3, -0.4],
    ];
    // By hand, in float64: g' = g + wd p; m, v as exponential averages; p -= lr mhat / (sqrt(vhat) + eps).
    const hand = [...p0];
    const hm = [0, 0, 0, 0];
    const hv = [0, 0, 0, 0];
    for (let step = 1; step <= 2; step++) {
      for (let i = 0; i < 4; i++) {
        const gi = grads[step - 1][i] + withDecay.weightDecay * hand[i];
        hm[i] = 0.9 * hm[i] + 0.1 * gi;
        hv[i] = 0.999 * hv[i] + 0.001 * gi * gi;
        const mHat = hm[i] / (1 - 0.9 ** step);
        const vHat = hv[i] / (1 - 0.999 ** step);
        hand[i] -= (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
    }
    const p = Float32Array.from(p0);
    const m = new Float32Array(4);
    const v = new Float32Array(4);
    adamStep(p, Float32Array.from(grads[0]), m, v, 1, withDecay);
    adamStep(p, Float32Array.from(grads[1]), m, v, 2, withDecay);
    expectClose(p, Float32Array.from(hand), 1e-6, 1e-6, 'p after two steps');
    expectClose(m, Float32Array.from(hm), 1e-7, 1e-6, 'm after two steps');
    expectClose(v, Float32Array.from(hv), 1e-9, 1e-5, 'v after two steps');
  });

  it('rejects mismatched lengths and step 0', () => {
    const a = new Float32Array(2);
    expect(() => adamStep(a, new Float32Array(3), a, a, 1, opts)).toThrow(/adamStep/);
    expect(() => adamStep(a, a, a, a, 0, opts)).toThrow(/step=0/);
  });
});

describe('globalNorm and clipScale', () => {
  it('globalNorm is the norm of all gradients together', () => {
    expect(globalNorm([Float32Array.of(3), Float32Array.of(0, 4), new Float32Array(0)])).toBe(5);
    expect(globalNorm([])).toBe(0);
  });

  it('clipScale is min(1, maxNorm / (norm + 1e-6))', () => {
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(4, 1)).toBeCloseTo(1 / (4 + 1e-6), 15);
  });
});

it('emaUpdate blends in place', () => {
  const ema = Float32Array.of(1, 2);
  emaUpdate(ema, Float32Array.of(3, -2), 0.75);
  expect(Array.from(ema)).toEqual([1.5, 1]);
});

describe('the PyTorch training step (unet-tiny.train.safetensors)', () => {
  const TRAIN = 'unet-tiny.train.safetensors';
  const train = loadReference(TRAIN);
  const weights = loadReference('unet-tiny.safetensors');
  const names = [...weights.tensors.keys()];
  const grads = names.map((name) => getTensor(train, `grad/${name}`, weights.tensors.get(name)?.shape, TRAIN).data);
  const norm = globalNorm(grads);

  it('global norm of the raw gradients', () => {
    const ref = getTensor(train, 'grad_norm_before_clip', [1], TRAIN).data[0];
    expect(Math.abs(norm - ref) / ref).toBeLessThanOrEqual(1e-5);
  });

  it('clip to 1.0, one Adam step, then EMA 0.9999', () => {
    const lr = 2e-4;
    const scale = clipScale(norm, 1.0);
    let elements = 0;
    let within1e6 = 0;
    for (const [k, name] of names.entries()) {
      const initial = getTensor(weights, name).data;
      const p = Float32Array.from(initial);
      const g = grads[k].map((x) => x * scale);
      const m = new Float32Array(p.length);
      const v = new Float32Array(p.length);
      adamStep(p, g, m, v, 1, { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
      const ref = getTensor(train, `step1/${name}`, undefined, TRAIN).data;
      // README contract: every element within 2 lr, and 99.9% of all elements within 1e-6.
      expectClose(p, ref, 2 * lr, 0, `step1/${name}`);
      for (let i = 0; i < p.length; i++) if (Math.abs(p[i] - ref[i]) <= 1e-6) within1e6++;
      elements += p.length;

      const ema = Float32Array.from(initial);
      emaUpdate(ema, ref, 0.9999);
      expectClose(ema, getTensor(train, `ema1/${name}`, undefined, TRAIN).data, 1e-5, 1e-4, `ema1/${name}`);
    }
    expect(within1e6 / elements).toBeGreaterThanOrEqual(0.999);
  });
});
