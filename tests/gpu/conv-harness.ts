// One convolution's forward, input gradient and parameter gradients on the GPU, for the conv2d
// kernel tests of every precision tier (tests/gpu/conv2d.test.ts, tests/gpu/tier.test.ts).
import { conv2dBackward, conv2dBiasPartialsShape, conv2dForward, convInputShape, sliceReduction, weightGradOutputs, weightGradSplit, type WeightGradSplit } from '../../src/kernels/conv2d';
import { convOutSize, type ConvGeometry } from '../../src/host/layers';
import type { HostTensor } from '../../src/host/tensor';
import { RowSums } from '../../src/kernels/reduce';
import { alignFloats } from '../../src/gpu/tensor';
import { gpuZeros, packOnGpu, run, toGpu } from './harness';
import type { Tensor } from '../../src/gpu/tensor';

/** A split of the weight-gradient GEMM into `splits` slices of the reduction (forced, for tests). */
export function forcedSplit(x: readonly number[], k: number, splits: number, w: readonly number[]): WeightGradSplit {
  return sliceReduction(weightGradOutputs(w), x[0]! * k, splits);
}

/** The RowSums a convolution's weight gradient split as `split` takes its partial copies from
 *  (conv2d.ts Conv2dParamGrads.splitSums): room for them, so it sums them when it dispatches. */
export function splitSumsFor(d: GPUDevice, split: WeightGradSplit): RowSums {
  return new RowSums(d, alignFloats(split.scratchFloats), 'split');
}

/** y, dx, dw and db of one convolution; the backward as one dispatch, or with `separate` as one for
 *  the input gradient and one for the parameters'. */
export async function gpuConv(d: GPUDevice, x: HostTensor, w: HostTensor, b: HostTensor, dy: HostTensor, g: ConvGeometry, split?: WeightGradSplit, dwInit?: HostTensor, upsample = false, separate = false) {
  const xs = convInputShape(x.shape, upsample);
  const [B, , H, W] = xs as [number, number, number, number];
  const [Co, , K] = w.shape as [number, number, number];
  const OH = convOutSize(H, K, g.stride, g.pad[0], g.pad[2]);
  const OW = convOutSize(W, K, g.stride, g.pad[1], g.pad[3]);
  const tx = toGpu(d, x, 'x'), tw = toGpu(d, w, 'w'), tb = toGpu(d, b, 'b'), tdy = toGpu(d, dy, 'dy');
  const y = gpuZeros(d, [B, Co, OH, OW], 'y');
  const dx = gpuZeros(d, xs, 'dx');
  // dw and db in one buffer, as the flat gradients hold them (one sum writes both)
  const [dw, db] = packOnGpu(d, [dwInit ?? { shape: w.shape, data: new Float32Array(w.data.length) }, { shape: [Co], data: new Float32Array(Co) }], 'grads') as [Tensor, Tensor];
  const args = { x: tx, w: tw, dy: tdy, geometry: g, upsample, label: 'conv' };
  const sp = split ?? weightGradSplit(xs, w.shape, g, d.limits);
  const splitSums = splitSumsFor(d, sp);
  const rowSums = new RowSums(d, RowSums.floats(conv2dBiasPartialsShape(xs, w.shape)), 'conv');   // the reduced tiers' db
  const input = { dx, accumulate: false }, params = { dw, db, split: sp, splitSums, rowSums };
  const [gy, gdx, gdw, gdb] = await run(d, [
    conv2dForward(d, { x: tx, w: tw, bias: tb, y, geometry: g, upsample, label: 'conv' }),
    ...(separate
      ? [...conv2dBackward(d, { ...args, input }), ...conv2dBackward(d, { ...args, params })]
      : conv2dBackward(d, { ...args, input, params })),
    ...splitSums.dispatch(d),
    ...rowSums.dispatch(d),
  ], [y, dx, dw, db]);
  return { y: gy!, dx: gdx!, dw: gdw!, db: gdb! };
}

