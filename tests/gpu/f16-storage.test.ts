// Activations stored as f16 pairs (gpu/tensor.ts TensorStorage): a GroupNorm's and a dropout's f16
// output is its f32 output as the CPU rounds it to f16 (overflow and all); a convolution of an f16
// input gives the bits of the same convolution of those rounded values in f32, forward and backward;
// a reduced tier's UNet gives the same bits with and without f16 activations, writing fewer bytes;
// and an f16 tensor bound where a kernel reads f32 is refused by name.
import { describe, expect, it } from 'vitest';
import { createTensor, upload } from '../../src/gpu/tensor';
import { conv2dBackward, conv2dBiasPartialsShape, conv2dForward, weightGradSplit } from '../../src/kernels/conv2d';
import { groupNormForward } from '../../src/kernels/groupnorm';
import { RowSums } from '../../src/kernels/reduce';
import { createRngState, dropoutForward, gaussianFill, setRngState } from '../../src/kernels/rng';
import { CONV3X3 } from '../../src/host/layers';
import { f16Round } from '../../src/ref/f16';
import { concatChannelsBackward } from '../../src/ref/concat';
import { gpuZeros, packOnGpu, randomTensor, run, toGpu, useGpu } from './harness';
import { DROPOUT_UNET, expectSameBits, expectSameSteps, stepPerPlan } from './unet-step';

const gpu = useGpu();
const emulated = useGpu('matrix-emulated');

/** Asserts got[i] is f16Round(ref[i]) exactly (NaN where NaN), naming the first miss. */
function expectF16Rounding(got: Float32Array, ref: Float32Array, what: string): void {
  expect(got.length, what).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const want = f16Round(ref[i]!);
    if (!Object.is(got[i], want) && !(Number.isNaN(got[i]) && Number.isNaN(want))) {
      throw new Error(`${what}[${i}]: got ${got[i]}, want f16(${ref[i]}) = ${want}`);
    }
  }
}

// Two samples, 6 channels in 3 groups of 5x3 pixels: 30 values per group, words straddling rows.
const SHAPE = [2, 6, 5, 3] as const;

describe('activations stored as f16 pairs', () => {
  it('a GroupNorm (two-part input, SiLU) writes its f32 output rounded to f16, overflow to inf included', async () => {
    const d = gpu.device;
    const x = randomTensor(SHAPE, 1, 2);
    const w = randomTensor([6], 2);
    w.data[1] = 3e5;   // channel 1 reaches past f16's range: +-inf
    w.data[4] = 1e-6;  // channel 4 lands among f16's subnormals
    const [tw, tb] = packOnGpu(d, [w, randomTensor([6], 3)], 'gn.affine');
    // x's first 4 channels and the rest as two tensors (the skip concatenation read in place)
    const { da, db } = concatChannelsBackward(x, 4);
    const [xa, xb] = [toGpu(d, da, 'xa'), toGpu(d, db, 'xb')];
    const args = { x: xa, x2: xb, w: tw!, b: tb!, groups: 3, silu: true, label: 'gn' };
    const y = gpuZeros(d, SHAPE, 'y'), y16 = createTensor(d, SHAPE, 'y16', 'f16');
    const [g32, g16] = await run(d, [
      groupNormForward(d, { ...args, stats: gpuZeros(d, [2, 2, 3]), y }),
      groupNormForward(d, { ...args, stats: gpuZeros(d, [2, 2, 3]), y: y16 }),
    ], [y, y16]);
    expect(g32!.some((v) => Math.abs(v) >= 65520), 'some outputs overflow f16').toBe(true);
    expectF16Rounding(g16!, g32!, 'y16');
  });

  it('a dropout writes its f32 output rounded to f16', async () => {
    const d = gpu.device;
    const state = createRngState(d, 'rng.state');
    setRngState(d, state, 99, 3);
    const x = toGpu(d, randomTensor([3, 7, 11, 2], 4, 3), 'x');   // 462 values: the last block half full
    const y = gpuZeros(d, x.shape, 'y'), y16 = createTensor(d, x.shape, 'y16', 'f16');
    const a = { state, stream: 2, p: 0.3, x, label: 'drop' };
    const [g32, g16] = await run(d, [dropoutForward(d, { ...a, y }), dropoutForward(d, { ...a, y: y16 })], [y, y16]);
    expect(g32!.filter((v) => v === 0).length).toBeGreaterThan(50);
    expectF16Rounding(g16!, g32!, 'y16');
  });

  it('a convolution of an f16 input gives the bits of the convolution of its values in f32, forward and backward', async () => {
    const d = gpu.device;
    // The f16 input made as the UNet makes it: a GroupNorm's f16 output; its f32 twin holds the same values.
    const [tw, tb] = packOnGpu(d, [randomTensor([6], 5), randomTensor([6], 6)], 'gn.affine');
    const gn = { x: toGpu(d, randomTensor(SHAPE, 7, 2), 'x'), w: tw!, b: tb!, groups: 3, silu: true, label: 'gn', stats: gpuZeros(d, [2, 2, 3]) };
    const x16 = createTensor(d, SHAPE, 'x16', 'f16');
    const [values] = await run(d, [groupNormForward(d, { ...gn, y: x16 })], [x16]);
    const x32 = toGpu(d, { shape: [...SHAPE], data: values! }, 'x32');
    const [w, bias] = packOnGpu(d, [randomTensor([4, 6, 3, 3], 8, 0.3), randomTensor([4], 9)], 'conv.params');
    const dy = toGpu(d, randomTensor([2, 4, 5, 3], 10), 'dy');
    const outputs = async (x: typeof x16) => {
      const y = gpuZeros(d, [2, 4, 5, 3], 'y'), dx = gpuZeros(d, SHAPE, 'dx');
      const [dw, db] = packOnGpu(d, [{ shape: [4, 6, 3, 3], data: new Float32Array(216) }, { shape: [4], data: new Float32Array(4) }], 'conv.grads');
      const rowSums = new RowSums(d, RowSums.floats(conv2dBiasPartialsShape(SHAPE, [4, 6, 3, 3])), 'conv');
      const split = weightGradSplit(SHAPE, [4, 6, 3, 3], CONV3X3, d.limits);
      return run(d, [
        conv2dForward(d, { x, w: w!, bias: bias!, y, geometry: CONV3X3, label: 'conv' }),
        ...conv2dBackward(d, { x, w: w!, dy, geometry: CONV3X3, label: 'conv', input: { dx, accumulate: false }, params: { dw: dw!, db: db!, split, rowSums } }),
        ...rowSums.dispatch(d),
      ], [y, dx, dw!, db!]);
    };
    const [half, full] = [await outputs(x16), await outputs(x32)];
    ['y', 'dx', 'dw', 'db'].forEach((name, i) => expectSameBits(half[i]!, full[i]!, name));
  });

  it('an f16 tensor is refused where a kernel reads or writes f32, by binding and name', () => {
    const d = gpu.device;
    const x = createTensor(d, [1, 2, 4, 4], 'x', 'f16');
    const y = createTensor(d, [1, 2, 4, 4], 'y16', 'f16');
    const [w, bias] = packOnGpu(d, [randomTensor([2, 2, 3, 3], 1), randomTensor([2], 2)], 'conv.params');
    expect(() => conv2dForward(d, { x, w: w!, bias: bias!, residual: y, y: gpuZeros(d, [1, 2, 4, 4]), geometry: CONV3X3, label: 'conv' }))
      .toThrow(/conv \(conv2d.forward\): binding 7 \(y16\) is stored as f16 pairs, which this entry point reads as f32/);
    expect(() => conv2dForward(d, { x, w: w!, bias: bias!, y, geometry: CONV3X3, label: 'conv' })).toThrow(/y16: stored as f16 pairs; the span conv.outputs takes f32 tensors only/);
    expect(() => upload(d, x, new Float32Array(32))).toThrow(/x: stored as f16 pairs; upload takes f32 tensors only/);
    const state = createRngState(d, 'rng.state');
    expect(() => gaussianFill(d, { state, stream: 0, out: y, label: 'noise' })).toThrow(/noise \(rng.gaussian_fill\): binding 2 \(y16\) is stored as f16 pairs/);
    const [gw, gb] = packOnGpu(d, [randomTensor([3], 1), randomTensor([3], 2)], 'gn.affine');
    expect(() => groupNormForward(d, { x: gpuZeros(d, [1, 3, 3, 3]), w: gw!, b: gb!, groups: 3, silu: false, stats: gpuZeros(d, [2, 1, 3]), y: createTensor(d, [1, 3, 3, 3], 'odd', 'f16'), label: 'gn' }))
      .toThrow(/gn: a GroupNorm output stored as f16 needs an even number of values per group, \[1,3,3,3\] in 3 groups has not/);
  });

  it('a reduced tier\'s UNet gives the same bits with f16 activations (dropout on), writing fewer bytes', async () => {
    // The GroupNorm outputs written (not normalised on load), as on an adapter of 8 storage bindings.
    const [half, full] = await stepPerPlan(emulated.device, DROPOUT_UNET, [{ halfActivations: true, normaliseOnLoad: false }, { halfActivations: false, normaliseOnLoad: false }]);
    expectSameSteps([half!, full!]);
    const halfNorms = half!.kernels.filter((k) => k === 'groupnorm.forward_f16' || k === 'rng.dropout_f16');
    expect(halfNorms.length).toBeGreaterThan(10);
    expect(half!.bytesWritten).toBeLessThan(0.85 * full!.bytesWritten);
  });
});
