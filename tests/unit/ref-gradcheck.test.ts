// Central-difference gradient checks of every CPU reference backward on tiny random shapes.
// Each op is reduced to the scalar L = sum(y * r) for a fixed random r, so the backward called with
// dy = r must return dL/d(input). The numerical derivative perturbs one float32 input by +-H,
// divides by the perturbation actually stored (float32 rounds x +- H), and sums L in float64.
// The tolerance allows float32 rounding of y (about 1e-7 |y|, amplified by 1/(2H)) plus the O(H^2)
// truncation error of the nonlinear ops.

import { describe, it } from 'vitest';
import { shapeSize, type HostTensor } from '../../src/host/tensor';
import { silu, siluBackward } from '../../src/ref/activation';
import { attentionCore, attentionCoreBackward } from '../../src/ref/attention';
import { concatChannels, concatChannelsBackward } from '../../src/ref/concat';
import { conv2d, conv2dBackward } from '../../src/ref/conv2d';
import { CONV1X1, CONV3X3, DOWNSAMPLE3X3, type ConvGeometry } from '../../src/host/layers';
import { groupNorm, groupNormBackward } from '../../src/ref/groupnorm';
import { linear, linearBackward } from '../../src/ref/linear';
import { ddpmLoss, ddpmLossBackward } from '../../src/ref/loss';
import { avgPool2x2, avgPool2x2Backward, upsampleNearest2x, upsampleNearest2xBackward } from '../../src/ref/resample';
import { gaussian } from '../../src/host/rng';
import { expectClose } from './ref-helpers';

const H = 1e-2;
const ATOL = 1e-3;
const RTOL = 1e-2;

let nextStream = 1;
/** A fresh standard-normal tensor (each call draws from a new stream of one seed). */
function randn(shape: number[]): HostTensor {
  return { shape, data: gaussian(20240601, nextStream++, 0, shapeSize(shape)) };
}

/** sum(y * r) in float64. */
function dot(y: HostTensor, r: HostTensor): number {
  let sum = 0;
  for (let i = 0; i < y.data.length; i++) sum += y.data[i] * r.data[i];
  return sum;
}

/** Compares `analytic` with the central difference of `objective` wrt every element of `input`. */
function gradCheck(what: string, input: HostTensor, analytic: HostTensor, objective: () => number): void {
  const numeric = new Float32Array(input.data.length);
  for (let i = 0; i < input.data.length; i++) {
    const x0 = input.data[i];
    input.data[i] = x0 + H;
    const xPlus = input.data[i];
    const lPlus = objective();
    input.data[i] = x0 - H;
    const xMinus = input.data[i];
    const lMinus = objective();
    input.data[i] = x0;
    numeric[i] = (lPlus - lMinus) / (xPlus - xMinus);
  }
  expectClose(analytic.data, numeric, ATOL, RTOL, `${what} (analytic vs central difference)`);
}

describe('conv2d', () => {
  const cases: [string, ConvGeometry, number[], number[]][] = [
    ['3x3 stride 1 pad 1', CONV3X3, [2, 3, 5, 4], [2, 3, 3, 3]],
    ['3x3 stride 2 pad bottom/right', DOWNSAMPLE3X3, [2, 3, 6, 5], [2, 3, 3, 3]],
    ['1x1', CONV1X1, [2, 3, 3, 4], [4, 3, 1, 1]],
  ];
  for (const [name, g, xShape, wShape] of cases) {
    it(name, () => {
      const x = randn(xShape);
      const w = randn(wShape);
      const b = randn([wShape[0]]);
      const r = randn(conv2d(x, w, b, g).shape);
      const loss = (): number => dot(conv2d(x, w, b, g), r);
      const { dx, dw, db } = conv2dBackward(x, w, r, g);
      gradCheck('conv2d dx', x, dx, loss);
      gradCheck('conv2d dw', w, dw, loss);
      gradCheck('conv2d db', b, db, loss);
    });
  }
});

describe('groupNorm', () => {
  for (const fused of [false, true]) {
    it(fused ? 'with fused silu' : 'plain', () => {
      const groups = 2;
      const x = randn([2, 4, 3, 3]);
      const w = randn([4]);
      const b = randn([4]);
      const r = randn(x.shape);
      const loss = (): number => dot(groupNorm(x, w, b, groups, 1e-6, fused).y, r);
      const { mean, rstd } = groupNorm(x, w, b, groups, 1e-6, fused);
      const { dx, dw, db } = groupNormBackward(x, w, b, mean, rstd, r, groups, fused);
      gradCheck('groupNorm dx', x, dx, loss);
      gradCheck('groupNorm dw', w, dw, loss);
      gradCheck('groupNorm db', b, db, loss);
    });
  }
});

it('silu', () => {
  const x = randn([3, 7]);
  const r = randn(x.shape);
  gradCheck('silu dx', x, siluBackward(x, r), () => dot(silu(x), r));
});

it('linear', () => {
  const x = randn([3, 5]);
  const w = randn([4, 5]);
  const b = randn([4]);
  const r = randn([3, 4]);
  const loss = (): number => dot(linear(x, w, b), r);
  const { dx, dw, db } = linearBackward(x, w, r);
  gradCheck('linear dx', x, dx, loss);
  gradCheck('linear dw', w, dw, loss);
  gradCheck('linear db', b, db, loss);
});

it('attentionCore', () => {
  const q = randn([2, 4, 5]);
  const k = randn([2, 4, 5]);
  const v = randn([2, 4, 5]);
  const r = randn([2, 4, 5]);
  const loss = (): number => dot(attentionCore(q, k, v).y, r);
  const { dq, dk, dv } = attentionCoreBackward(q, k, v, attentionCore(q, k, v).p, r);
  gradCheck('attentionCore dq', q, dq, loss);
  gradCheck('attentionCore dk', k, dk, loss);
  gradCheck('attentionCore dv', v, dv, loss);
});

it('upsampleNearest2x and avgPool2x2', () => {
  const x = randn([2, 3, 2, 3]);
  const rUp = randn([2, 3, 4, 6]);
  gradCheck('upsampleNearest2x dx', x, upsampleNearest2xBackward(rUp), () => dot(upsampleNearest2x(x), rUp));
  const x2 = randn([2, 3, 4, 6]);
  const rPool = randn([2, 3, 2, 3]);
  gradCheck('avgPool2x2 dx', x2, avgPool2x2Backward(rPool), () => dot(avgPool2x2(x2), rPool));
});

it('concatChannels', () => {
  const a = randn([2, 2, 3, 2]);
  const b = randn([2, 3, 3, 2]);
  const r = randn([2, 5, 3, 2]);
  const loss = (): number => dot(concatChannels(a, b), r);
  const { da, db } = concatChannelsBackward(r, 2);
  gradCheck('concatChannels da', a, da, loss);
  gradCheck('concatChannels db', b, db, loss);
});

it('ddpmLoss', () => {
  const eps = randn([3, 2, 3, 3]);
  const noise = randn([3, 2, 3, 3]);
  gradCheck('ddpmLoss deps', eps, ddpmLossBackward(eps, noise), () => ddpmLoss(eps, noise));
  const w = Array.from({ length: eps.shape[0] }, (_, b) => 0.5 + b);
  gradCheck('weighted ddpmLoss deps', eps, ddpmLossBackward(eps, noise, w), () => ddpmLoss(eps, noise, w));
});
