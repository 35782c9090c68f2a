// A convolution that normalises its input as it loads it (conv2d.wgsl FLAG_NORM, with the table of
// groupnorm.wgsl `statistics`) against the GroupNorm dispatch that writes its output and the
// convolution of that output: the same bits, forward and backward, in fp32 and in a reduced tier; and
// against the CPU reference. Then whole UNets planned both ways.
import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/host/tensor';
import { CONV1X1, CONV3X3, type ConvGeometry } from '../../src/host/layers';
import { conv2dBackward, conv2dForward, convInputShape, weightGradSplit, type WeightGradSplit } from '../../src/kernels/conv2d';
import { groupNormForward, groupNormStatistics } from '../../src/kernels/groupnorm';
import { RowSums } from '../../src/kernels/reduce';
import { createRngState, dropoutForward, setRngState } from '../../src/kernels/rng';
import { createTensor, readTensors, upload, type Tensor } from '../../src/gpu/tensor';
import { submitDispatches, withErrorScopes } from '../../src/gpu/kernel';
import { concatChannelsBackward } from '../../src/ref/concat';
import { conv2d } from '../../src/ref/conv2d';
import { groupNorm } from '../../src/ref/groupnorm';
import { UNet } from '../../src/nn/unet';
import { configFromMetadata } from '../../src/nn/config';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { FWD, gpuZeros, packOnGpu, randomTensor, run, toGpu, useGpu, type GpuFixture } from './harness';
import { forcedSplit, splitSumsFor } from './conv-harness';
import { DROPOUT_UNET, expectSameBits, expectSameSteps, stepPerPlan } from './unet-step';

const gpu = useGpu();
const emulated = useGpu('matrix-emulated');

interface Case {
  x: HostTensor;
  /** Channels of x's first part: x is given as two tensors (the skip concatenation). */
  ca?: number;
  groups: number;
  silu: boolean;
  w: HostTensor;
  geometry: ConvGeometry;
  split?: WeightGradSplit;
}

/** GroupNorm (then SiLU) of x convolved, forward and backward: with `onLoad` the convolution
 *  normalises x as it loads it; without, a GroupNorm dispatch writes its output (f16 where the tier
 *  stores it so) and the convolution reads that. */
async function normThenConv(f: GpuFixture, c: Case, onLoad: boolean) {
  const d = f.device;
  const [B, C, H, W] = c.x.shape as [number, number, number, number];
  const parts = c.ca === undefined ? [c.x] : Object.values(concatChannelsBackward(c.x, c.ca));
  const [x, x2] = parts.map((p, i) => toGpu(d, p, `x${i}`));
  const gamma = randomTensor([C], 5, 0.5), beta = randomTensor([C], 6, 0.5);
  const [tg, tb] = packOnGpu(d, [gamma, beta], 'gn.affine') as [Tensor, Tensor];
  const Co = c.w.shape[0]!;
  const [tw, tbias] = packOnGpu(d, [c.w, randomTensor([Co], 7)], 'conv.params') as [Tensor, Tensor];
  // stride 1, padded: the output has x's size
  const y = gpuZeros(d, [B, Co, H, W], 'y');
  const dy = toGpu(d, randomTensor([B, Co, H, W], 8), 'dy');
  const dz = gpuZeros(d, [B, C, H, W], 'dz');
  const [dw, db] = packOnGpu(d, [{ shape: c.w.shape, data: new Float32Array(c.w.data.length) }, { shape: [Co], data: new Float32Array(Co) }], 'grads') as [Tensor, Tensor];
  const stats = gpuZeros(d, [2, B, c.groups], 'stats');
  const norm = { x: x!, x2, w: tg, b: tb, stats, groups: c.groups, silu: c.silu, label: 'gn' };
  const split = c.split ?? weightGradSplit([B, C, H, W], c.w.shape, c.geometry, d.limits);
  const splitSums = splitSumsFor(d, split);
  const rowSums = new RowSums(d, RowSums.floats([B, Co]), 'conv');
  const params = { dw, db, split, splitSums, rowSums };
  const common = { w: tw, geometry: c.geometry, label: 'conv' };
  let dispatches;
  if (onLoad) {
    const table = gpuZeros(d, [B, C, 4], 'table');
    const input = { x: x!, x2, norm: { table, silu: c.silu } };
    dispatches = [
      groupNormStatistics(d, { ...norm, table }),
      conv2dForward(d, { ...input, ...common, bias: tbias, y }),
      ...conv2dBackward(d, { ...input, ...common, dy, input: { dx: dz, accumulate: false }, params }),
    ];
  } else {
    const half = f.tier !== 'fp32';
    const z = createTensor(d, [B, C, H, W], 'z', half ? 'f16' : 'f32');
    dispatches = [
      groupNormForward(d, { ...norm, y: z }),
      conv2dForward(d, { x: z, ...common, bias: tbias, y }),
      ...conv2dBackward(d, { x: z, ...common, dy, input: { dx: dz, accumulate: false }, params }),
    ];
  }
  const [gy, gdz, gdw, gdb, gstats] = await run(d, [...dispatches, ...splitSums.dispatch(d), ...rowSums.dispatch(d)], [y, dz, dw, db, stats]);
  return { y: gy!, dz: gdz!, dw: gdw!, db: gdb!, stats: gstats!, gamma, beta, bias: randomTensor([Co], 7) };
}

const CASES: [string, Case][] = [
  ['3x3 of a one-part input, SiLU (batch 2, 12 channels in 4 groups, 7x9)', {
    x: randomTensor([2, 12, 7, 9], 1, 2), groups: 4, silu: true, w: randomTensor([10, 12, 3, 3], 2, 0.3), geometry: CONV3X3,
  }],
  ['3x3 of a two-part input, SiLU, split weight gradient (batch 3, 8 + 8 channels in 4 groups, 6x5)', {
    x: randomTensor([3, 16, 6, 5], 3, 2), ca: 8, groups: 4, silu: true, w: randomTensor([9, 16, 3, 3], 4, 0.3), geometry: CONV3X3,
    split: forcedSplit([3, 16, 6, 5], 30, 3, [9, 16, 3, 3]),
  }],
  ['1x1 without SiLU (batch 2, 32 channels in 8 groups, 4x4)', {
    x: randomTensor([2, 32, 4, 4], 9, 3), groups: 8, silu: false, w: randomTensor([24, 32, 1, 1], 10, 0.3), geometry: CONV1X1,
  }],
];

describe('a convolution that normalises its input as it loads it', () => {
  for (const [name, c] of CASES) {
    it(`gives the bits of GroupNorm then convolution, forward and backward: ${name}`, async () => {
      const fused = await normThenConv(gpu, c, true);
      const plain = await normThenConv(gpu, c, false);
      for (const k of ['y', 'dz', 'dw', 'db', 'stats'] as const) expectSameBits(fused[k], plain[k], k);
      // and the CPU reference of the two layers
      const z = groupNorm(c.x, fused.gamma, fused.beta, c.groups, 1e-6, c.silu).y;
      expectClose(fused.y, conv2d(z, c.w, fused.bias, c.geometry).data, FWD.atol, FWD.rtol, 'y vs the CPU reference');
    });
  }

  it('gives the bits of an f16-stored GroupNorm output in a reduced tier (matrix-emulated)', async () => {
    const c = CASES[1]![1];
    const fused = await normThenConv(emulated, c, true);
    const plain = await normThenConv(emulated, c, false);
    for (const k of ['y', 'dz', 'dw', 'db'] as const) expectSameBits(fused[k], plain[k], k);
  });

  // A GroupNorm read by a dropout (norm2 in training): the dropout normalises as it loads, f32 out or
  // f16 pairs (a reduced tier's), the bits of the GroupNorm's written output dropped out.
  for (const storage of ['f32', 'f16'] as const) {
    it(`a dropout that normalises its input gives the bits of GroupNorm then dropout (${storage} output)`, async () => {
      const d = gpu.device;
      const [B, C, H, W] = [2, 12, 5, 6];
      const x = toGpu(d, randomTensor([B, C, H, W], 31, 2), 'x');
      const [tg, tb] = packOnGpu(d, [randomTensor([C], 32, 0.5), randomTensor([C], 33, 0.5)], 'gn.affine') as [Tensor, Tensor];
      const norm = { x, w: tg, b: tb, stats: gpuZeros(d, [2, B, 4], 'stats'), groups: 4, silu: true, label: 'gn' };
      const state = createRngState(d, 'rng');
      setRngState(d, state, 9, 3);
      const drop = { state, stream: 2, p: 0.3, label: 'drop' };
      const table = gpuZeros(d, [B, C, 4], 'table'), z = gpuZeros(d, [B, C, H, W], 'z');
      const [onLoad, written] = [createTensor(d, [B, C, H, W], 'y1', storage), createTensor(d, [B, C, H, W], 'y2', storage)];
      const got = await run(d, [
        groupNormStatistics(d, { ...norm, table }),
        dropoutForward(d, { ...drop, x, norm: { table, silu: true }, y: onLoad }),
        groupNormForward(d, { ...norm, y: z }),
        dropoutForward(d, { ...drop, x: z, y: written }),
      ], [onLoad, written]);
      expectSameBits(got[0]!, got[1]!, 'y');
      expect(got[0]!.filter((v) => v === 0).length).toBeGreaterThan(0.2 * got[0]!.length);   // some dropped
    });
  }

  it('refuses what it cannot normalise, by name', () => {
    const d = gpu.device;
    const x = gpuZeros(d, [1, 8, 4, 4], 'x'), x2 = gpuZeros(d, [1, 8, 4, 4], 'x2');
    const w = gpuZeros(d, [4, 16, 3, 3], 'w'), y = gpuZeros(d, [1, 4, 4, 4], 'y');
    expect(() => conv2dForward(d, { x, x2, w, y, geometry: CONV3X3, label: 'c' })).toThrow(/c: a two-part convolution input is read in the forward only when normalised/);
    const table = gpuZeros(d, [1, 8, 4], 'table');
    expect(() => conv2dForward(d, { x, x2, w, y, norm: { table, silu: true }, geometry: CONV3X3, label: 'c' })).toThrow(/c: .*table.*\[1,8,4\].*\[1,16,4\]/);
    expect(convInputShape(x.shape, false, x2.shape)).toEqual([1, 16, 4, 4]);
    const state = createRngState(d, 'rng');
    const wide = gpuZeros(d, [1, 16, 4], 'wide');
    expect(() => dropoutForward(d, { state, stream: 0, p: 0.1, x, y: gpuZeros(d, [1, 8, 4, 4]), norm: { table: wide, silu: false }, label: 'drop' })).toThrow(/drop: .*\[1,16,4\].*\[1,8,4\]/);
  });
});

// The whole model planned both ways: the eps and every gradient of a training step's backward the
// same to the bit, the same dispatch count, and fewer bytes written by the forward.
describe('a UNet whose GroupNorm outputs are normalised on load', () => {
  it('gives the bits of the UNet that writes them (unet-tiny, batch 2, forward and backward)', async () => {
    const d = gpu.device;
    const weights = loadReference('unet-tiny.safetensors');
    const config = configFromMetadata(weights.metadata, 'unet-tiny.safetensors');
    const B = 2;
    const plan = (normaliseOnLoad: boolean) => {
      const net = new UNet(d, config, { batch: B, grad: true, dropout: false, normaliseOnLoad, label: normaliseOnLoad ? 'onload' : 'written' });
      net.params.load(weights, 'unet-tiny.safetensors');
      const R = config.resolution, C = config.in_channels;
      upload(d, net.x, randomTensor([B, C, R, R], 21).data);
      upload(d, net.t, new Float32Array([3, 517]));
      upload(d, net.deps!, randomTensor([B, config.out_ch, R, R], 22).data);
      return net;
    };
    const results = [];
    for (const onLoad of [true, false]) {
      const net = plan(onLoad);
      await withErrorScopes(d, 'unet', () => submitDispatches(d, [...net.forward, ...net.backward], 'step'));
      const names = net.layout.specs.map((p) => p.name);
      const grads = names.map((n) => net.grads!.get(n));
      const values = await readTensors(d, [net.eps, net.dx!, ...grads]);
      const written = net.forward.reduce((s, x) => s + x.bytesWritten, 0);
      results.push({ values, names: ['eps', 'dx', ...names], dispatches: [net.forward.length, net.backward.length], written });
      net.destroy();
    }
    const [onLoad, written] = results as [typeof results[0], typeof results[0]];
    onLoad.values.forEach((v, i) => expectSameBits(v, written.values[i]!, onLoad.names[i]!));
    expect(onLoad.dispatches).toEqual(written.dispatches);
    expect(onLoad.written).toBeLessThan(0.8 * written.written);
  });

  // Training with dropout: norm2's output is read by the dropout, which normalises as it loads it.
  it('gives the bits of the UNet that writes them with dropout on (batch 2, training step)', async () => {
    const [onLoad, written] = await stepPerPlan(gpu.device, DROPOUT_UNET, [{ normaliseOnLoad: true }, { normaliseOnLoad: false }]);
    expectSameSteps([onLoad!, written!]);
    const count = (r: typeof onLoad, kernel: string) => r!.kernels.filter((k) => k === kernel).length;
    expect(count(onLoad, 'groupnorm.forward')).toBe(0);
    expect(count(onLoad, 'rng.dropout')).toBe(count(written, 'rng.dropout'));
    expect(count(onLoad, 'rng.dropout')).toBeGreaterThan(3);
  });
});
