// The CPU references against the per-op PyTorch goldens (shared/reference/ops.safetensors):
// op `name` has inputs `name/<input>`, output `name/y`, upstream gradient `name/grad_y` and
// `name/grad_<input>` = d sum(y * grad_y) / d input.

import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { attentionCore, attentionCoreBackward } from '../../src/ref/attention';
import { concatChannels, concatChannelsBackward } from '../../src/ref/concat';
import { conv2d, conv2dBackward } from '../../src/ref/conv2d';
import { CONV1X1, CONV3X3, DOWNSAMPLE3X3, type ConvGeometry } from '../../src/host/layers';
import { silu, siluBackward } from '../../src/ref/activation';
import { groupNorm, groupNormBackward } from '../../src/ref/groupnorm';
import { normGroups } from '../../src/host/layers';
import { linear, linearBackward } from '../../src/ref/linear';
import { avgPool2x2, avgPool2x2Backward, upsampleNearest2x, upsampleNearest2xBackward } from '../../src/ref/resample';
import { timestepEmbedding } from '../../src/ref/timestep';
import { expectClose, loadReference } from './ref-helpers';

const FILE = 'ops.safetensors';
const ops = loadReference(FILE);

function golden(name: string): HostTensor {
  return getTensor(ops, name, undefined, FILE);
}

/** Forward contract: |got - ref| <= 1e-5 + 1e-4 |ref|, and the same shape. */
function expectForward(got: HostTensor, name: string): void {
  const ref = golden(name);
  expect(got.shape, `${name} shape`).toEqual(ref.shape);
  expectClose(got.data, ref.data, 1e-5, 1e-4, name);
}

/** Backward contract: |got - ref| <= 1e-4 + 1e-3 |ref|, and the same shape. */
function expectBackward(got: HostTensor, name: string): void {
  const ref = golden(name);
  expect(got.shape, `${name} shape`).toEqual(ref.shape);
  expectClose(got.data, ref.data, 1e-4, 1e-3, name);
}

describe('conv2d', () => {
  const cases: [string, ConvGeometry][] = [
    ['conv3x3_s1_p1', CONV3X3],
    ['conv3x3_s2_pad01', DOWNSAMPLE3X3],
    ['conv1x1', CONV1X1],
  ];
  for (const [op, geometry] of cases) {
    it(`${op} forward and backward`, () => {
      const x = golden(`${op}/x`);
      const w = golden(`${op}/w`);
      expectForward(conv2d(x, w, golden(`${op}/b`), geometry), `${op}/y`);
      const { dx, dw, db } = conv2dBackward(x, w, golden(`${op}/grad_y`), geometry);
      expectBackward(dx, `${op}/grad_x`);
      expectBackward(dw, `${op}/grad_w`);
      expectBackward(db, `${op}/grad_b`);
    });
  }
});

describe('groupnorm', () => {
  it('groupnorm32 forward and backward', () => {
    const x = golden('groupnorm32/x');
    const w = golden('groupnorm32/w');
    const b = golden('groupnorm32/b');
    const groups = normGroups(x.shape[1], 32);
    const { y, mean, rstd } = groupNorm(x, w, b, groups, 1e-6);
    expectForward(y, 'groupnorm32/y');
    const { dx, dw, db } = groupNormBackward(x, w, b, mean, rstd, golden('groupnorm32/grad_y'), groups);
    expectBackward(dx, 'groupnorm32/grad_x');
    expectBackward(dw, 'groupnorm32/grad_w');
    expectBackward(db, 'groupnorm32/grad_b');
  });

  it('fused silu equals silu of the plain output', () => {
    const x = golden('groupnorm32/x');
    const w = golden('groupnorm32/w');
    const b = golden('groupnorm32/b');
    const fused = groupNorm(x, w, b, 32, 1e-6, true).y;
    // Not bit-equal: the fused path applies silu before rounding the normalized value to float32.
    expectClose(fused.data, silu(groupNorm(x, w, b, 32, 1e-6).y).data, 1e-6, 1e-6, 'groupNorm silu=true vs silu(groupNorm)');
  });

  it('normGroups follows a group count and the auto rule', () => {
    expect(normGroups(64, 32)).toBe(32);
    expect(() => normGroups(48, 32)).toThrow(/C=48/);
    expect([32, 16, 24, 8, 12, 3].map((C) => normGroups(C, 'auto'))).toEqual([16, 16, 8, 8, 12, 3]);
  });
});

it('silu forward and backward', () => {
  const x = golden('silu/x');
  expectForward(silu(x), 'silu/y');
  expectBackward(siluBackward(x, golden('silu/grad_y')), 'silu/grad_x');
});

it('linear forward and backward', () => {
  const x = golden('linear/x');
  const w = golden('linear/w');
  expectForward(linear(x, w, golden('linear/b')), 'linear/y');
  const { dx, dw, db } = linearBackward(x, w, golden('linear/grad_y'));
  expectBackward(dx, 'linear/grad_x');
  expectBackward(dw, 'linear/grad_w');
  expectBackward(db, 'linear/grad_b');
});

it('attention_core forward and backward', () => {
  const q = golden('attention_core/q');
  const k = golden('attention_core/k');
  const v = golden('attention_core/v');
  const { y, p } = attentionCore(q, k, v);
  expectForward(y, 'attention_core/y');
  const { dq, dk, dv } = attentionCoreBackward(q, k, v, p, golden('attention_core/grad_y'));
  expectBackward(dq, 'attention_core/grad_q');
  expectBackward(dk, 'attention_core/grad_k');
  expectBackward(dv, 'attention_core/grad_v');
});

it('upsample_nearest2x forward and backward', () => {
  expectForward(upsampleNearest2x(golden('upsample_nearest2x/x')), 'upsample_nearest2x/y');
  expectBackward(upsampleNearest2xBackward(golden('upsample_nearest2x/grad_y')), 'upsample_nearest2x/grad_x');
});

it('avgpool2x2 forward and backward', () => {
  expectForward(avgPool2x2(golden('avgpool2x2/x')), 'avgpool2x2/y');
  expectBackward(avgPool2x2Backward(golden('avgpool2x2/grad_y')), 'avgpool2x2/grad_x');
});

it('concat_channels forward and backward', () => {
  const a = golden('concat_channels/a');
  expectForward(concatChannels(a, golden('concat_channels/b')), 'concat_channels/y');
  const { da, db } = concatChannelsBackward(golden('concat_channels/grad_y'), a.shape[1]);
  expectBackward(da, 'concat_channels/grad_a');
  expectBackward(db, 'concat_channels/grad_b');
});

describe('timestep_embedding', () => {
  for (const dim of [32, 33]) {
    it(`dim${dim} (t up to 999)`, () => {
      expectForward(timestepEmbedding(golden('timestep_embedding/t').data, dim), `timestep_embedding/dim${dim}`);
    });
  }
});
