// conv2d kernels vs the CPU reference (odd shapes, batch 1 and 3) and vs the PyTorch goldens.
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import { conv2dBackward as conv2dBackwardGpu, conv2dBiasInGemm, conv2dForward, sliceReduction, weightGradOutputs, weightGradSplit } from '../../src/kernels/conv2d';
import { upsampleNearest2x } from '../../src/ref/resample';
import { concatChannels, concatChannelsBackward } from '../../src/ref/concat';
import { conv2d, conv2dBackward } from '../../src/ref/conv2d';
import { CONV1X1, CONV3X3, DOWNSAMPLE3X3, type ConvGeometry } from '../../src/host/layers';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { BWD, FWD, gpuZeros, packOnGpu, randomTensor, run, toGpu, useGpu, withGemmTile } from './harness';
import { forcedSplit, gpuConv, splitSumsFor } from './conv-harness';
import { planeSumsInOrder } from '../../src/ref/plane-sums';
import { f16RoundTensor } from '../../src/ref/f16';
import { RowSums } from '../../src/kernels/reduce';
import { GEMM_TILES, gemmLaunch, gemmTile } from '../../src/kernels/gemm';
import type { Tensor } from '../../src/gpu/tensor';

const gpu = useGpu();
const emulated = useGpu('matrix-emulated');

const GOLDEN: [string, ConvGeometry][] = [['conv3x3_s1_p1', CONV3X3], ['conv3x3_s2_pad01', DOWNSAMPLE3X3], ['conv1x1', CONV1X1]];

describe('conv2d on WebGPU', () => {
  for (const [op, g] of GOLDEN) {
    it(`${op} matches the PyTorch golden`, async () => {
      const ref = loadReference('ops.safetensors');
      const t = (n: string) => getTensor(ref, `${op}/${n}`);
      const out = await gpuConv(gpu.device, t('x'), t('w'), t('b'), t('grad_y'), g);
      expectClose(out.y, t('y').data, FWD.atol, FWD.rtol, `${op} y`);
      expectClose(out.dx, t('grad_x').data, BWD.atol, BWD.rtol, `${op} grad_x`);
      expectClose(out.dw, t('grad_w').data, BWD.atol, BWD.rtol, `${op} grad_w`);
      expectClose(out.db, t('grad_b').data, BWD.atol, BWD.rtol, `${op} grad_b`);
    });
  }

  const ODD: [string, number[], number[], ConvGeometry][] = [
    ['3x3 batch 3, 70 out channels, 11x13', [3, 5, 11, 13], [70, 5, 3, 3], CONV3X3],
    ['3x3 stride 2 batch 1, 10x14', [1, 7, 10, 14], [9, 7, 3, 3], DOWNSAMPLE3X3],
    ['1x1 batch 3, 67 in channels', [3, 67, 5, 3], [6, 67, 1, 1], CONV1X1],
  ];
  for (const [name, xs, ws, g] of ODD) {
    it(`${name} matches the CPU reference`, async () => {
      const x = randomTensor(xs, 1), w = randomTensor(ws, 2, 0.3), b = randomTensor([ws[0]!], 3);
      const y = conv2d(x, w, b, g);
      const dy = randomTensor(y.shape, 4);
      const ref = conv2dBackward(x, w, dy, g);
      const out = await gpuConv(gpu.device, x, w, b, dy, g);
      expectClose(out.y, y.data, FWD.atol, FWD.rtol, 'y');
      expectClose(out.dx, ref.dx.data, BWD.atol, BWD.rtol, 'dx');
      expectClose(out.dw, ref.dw.data, BWD.atol, BWD.rtol, 'dw');
      expectClose(out.db, ref.db.data, BWD.atol, BWD.rtol, 'db');
    });
  }

  // The UNet's upsample: the conv gathers x's nearest 2x upsampling (never written), dx is the
  // gradient wrt the upsampled input; against the reference's upsample then conv.
  it('convolves the nearest 2x upsampling of its input read on the fly (batch 3, 5x7 -> 10x14), split or not', async () => {
    const x = randomTensor([3, 5, 5, 7], 31), w = randomTensor([9, 5, 3, 3], 32, 0.3), b = randomTensor([9], 33);
    const u = upsampleNearest2x(x);
    const y = conv2d(u, w, b, CONV3X3);
    const dy = randomTensor(y.shape, 34);
    const ref = conv2dBackward(u, w, dy, CONV3X3);
    for (const split of [undefined, forcedSplit(u.shape, 10 * 14, 3, w.shape)]) {
      const out = await gpuConv(gpu.device, x, w, b, dy, CONV3X3, split, undefined, true);
      expectClose(out.y, y.data, FWD.atol, FWD.rtol, 'y');
      expectClose(out.dx, ref.dx.data, BWD.atol, BWD.rtol, 'd(upsampled x)');
      expectClose(out.dw, ref.dw.data, BWD.atol, BWD.rtol, 'dw');
      expectClose(out.db, ref.db.data, BWD.atol, BWD.rtol, 'db');
    }
  });

  // The attention's q, k and v: three 1x1 convolutions of one input in one GEMM, weights, biases
  // and outputs each at a regular stride in one buffer (parameter views, one activation).
  it('stacks 1x1 convolutions of one input into one GEMM (batch 2, 67 in channels, 3 x 70 out)', async () => {
    const d = gpu.device;
    const x = randomTensor([2, 67, 5, 3], 41);
    const host = [0, 1, 2].flatMap((g) => [randomTensor([70, 67, 1, 1], 42 + g, 0.3), randomTensor([70], 45 + g)]);
    const params = packOnGpu(d, host, 'qkv.params');
    const ys = packOnGpu(d, [0, 1, 2].map(() => ({ shape: [2, 70, 5, 3], data: new Float32Array(2 * 70 * 15) })), 'qkv.out');
    const [w0, b0, w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    const got = await run(d, [conv2dForward(d, {
      x: toGpu(d, x, 'x'), w: w0, bias: b0, y: ys[0]!, stacked: [{ w: w1, bias: b1, y: ys[1]! }, { w: w2, bias: b2, y: ys[2]! }], geometry: CONV1X1, label: 'qkv',
    })], ys);
    for (let g = 0; g < 3; g++) expectClose(got[g]!, conv2d(x, host[2 * g]!, host[2 * g + 1]!, CONV1X1).data, FWD.atol, FWD.rtol, `stacked output ${g}`);
  });

  // Their backward in one dispatch: dx sums the three convolutions' input gradients (K = 3 Co), and
  // each gets its dw and db (3 Co rows of one GEMM, written into one span of the flat gradients, or
  // split into partial copies whose shares are summed into each).
  for (const splits of [1, 2]) {
    it(`computes the backward of stacked 1x1 convolutions in one dispatch (batch 2, 67 in channels, 3 x 70 out, ${splits} slice${splits > 1 ? 's' : ''})`, async () => {
      const d = gpu.device;
      const x = randomTensor([2, 67, 5, 3], 61);
      const ws = [0, 1, 2].map((g) => randomTensor([70, 67, 1, 1], 62 + g, 0.3));
      const dys = [0, 1, 2].map((g) => randomTensor([2, 70, 5, 3], 65 + g));
      const params = packOnGpu(d, ws.flatMap((w) => [w, { shape: [70], data: new Float32Array(70) }]), 'qkv.params');
      // The gradients start non-zero: parameter gradients accumulate (+=).
      const before = ws.flatMap((w, g) => [randomTensor(w.shape, 70 + g), randomTensor([70], 73 + g)]);
      const grads = packOnGpu(d, before, 'qkv.grads');
      const dy = packOnGpu(d, dys, 'qkv.dy');
      const dx = gpuZeros(d, x.shape, 'dx');
      const split = splits === 1 ? weightGradSplit(x.shape, [210, 67, 1, 1], CONV1X1, d.limits) : forcedSplit(x.shape, 15, 2, [210, 67, 1, 1]);
      expect(split.splits).toBe(splits);
      const splitSums = splitSumsFor(d, split);
      const at = (i: number) => params[i]!, gr = (i: number) => grads[i]!;
      const dispatches = conv2dBackwardGpu(d, {
        x: toGpu(d, x, 'x'), w: at(0), dy: dy[0]!, geometry: CONV1X1, label: 'qkv', input: { dx, accumulate: false },
        params: { dw: gr(0), db: gr(1), split, splitSums }, stacked: [1, 2].map((g) => ({ w: at(2 * g), dy: dy[g]!, dw: gr(2 * g), db: gr(2 * g + 1) })),
      });
      expect(dispatches).toHaveLength(1);
      const got = await run(d, [...dispatches, ...splitSums.dispatch(d)], [dx, ...grads]);
      const refs = [0, 1, 2].map((g) => conv2dBackward(x, ws[g]!, dys[g]!, CONV1X1));
      expectClose(got[0]!, refs[0]!.dx.data.map((v, i) => v + refs[1]!.dx.data[i]! + refs[2]!.dx.data[i]!), BWD.atol, BWD.rtol, 'dx of the three');
      for (let g = 0; g < 3; g++) {
        expectClose(got[1 + 2 * g]!, refs[g]!.dw.data.map((v, i) => v + before[2 * g]!.data[i]!), BWD.atol, BWD.rtol, `dw ${g}`);
        expectClose(got[2 + 2 * g]!, refs[g]!.db.data.map((v, i) => v + before[2 * g + 1]!.data[i]!), BWD.atol, BWD.rtol, `db ${g}`);
      }
      // Unsplit, a gradient out of stride (split, each has its own sum); or no bias gradients: refused
      // by name, not computed wrongly.
      const args = { x: toGpu(d, x, 'x2'), w: at(0), dy: dy[0]!, geometry: CONV1X1, label: 'qkv', input: { dx, accumulate: false } };
      if (splits === 1) {
        expect(() => conv2dBackwardGpu(d, { ...args, params: { dw: gr(0), db: gr(1), split, splitSums }, stacked: [{ w: at(2), dy: dy[1]!, dw: gr(4), db: gr(5) }] }))
          .toThrow(/qkv: stacked weight gradients must lie at the weights' stride/);
      }
      expect(() => conv2dBackwardGpu(d, { ...args, params: { dw: gr(0), split, splitSums }, stacked: [{ w: at(2), dy: dy[1]!, dw: gr(2), db: gr(3) }] }))
        .toThrow(/qkv: a stacked conv2d backward is 1x1 stride 1 with dx and the parameter gradients, biases included/);
    });
  }

  // In a reduced tier the stacked convolutions' biases come from the plane sums of their stacked dy
  // (3 takes of the row sums, one span): in order, to the last bit, split or not.
  for (const splits of [1, 2]) {
    it(`sums the plane sums of stacked convolutions for their bias gradients (matrix-emulated, ${splits} slice${splits > 1 ? 's' : ''})`, async () => {
      const e = emulated.device;
      const x = randomTensor([2, 16, 9, 10], 81);
      const ws = [0, 1, 2].map((g) => randomTensor([24, 16, 1, 1], 82 + g, 0.3));
      const dys = [0, 1, 2].map((g) => randomTensor([2, 24, 9, 10], 85 + g));
      const params = packOnGpu(e, ws.flatMap((w) => [w, { shape: [24], data: new Float32Array(24) }]), 'qkv.params');
      const grads = packOnGpu(e, ws.flatMap((w) => [{ shape: w.shape, data: new Float32Array(w.data.length) }, { shape: [24], data: new Float32Array(24) }]), 'qkv.grads');
      const dy = packOnGpu(e, dys, 'qkv.dy');
      const split = splits === 1 ? weightGradSplit(x.shape, [72, 16, 1, 1], CONV1X1, e.limits) : forcedSplit(x.shape, 90, 2, [72, 16, 1, 1]);
      expect(split.splits).toBe(splits);
      const splitSums = splitSumsFor(e, split), rowSums = new RowSums(e, 3 * RowSums.floats([2, 24]), 'qkv');
      const dispatches = conv2dBackwardGpu(e, {
        x: toGpu(e, x, 'x'), w: params[0]!, dy: dy[0]!, geometry: CONV1X1, label: 'qkv', input: { dx: gpuZeros(e, x.shape), accumulate: false },
        params: { dw: grads[0]!, db: grads[1]!, split, splitSums, rowSums }, stacked: [1, 2].map((g) => ({ w: params[2 * g]!, dy: dy[g]!, dw: grads[2 * g]!, db: grads[2 * g + 1]! })),
      });
      expect(dispatches.map((k) => k.label)).toEqual(['qkv.dx+dw+db (conv2d.backward)']);
      const got = await run(e, [...dispatches, ...splitSums.dispatch(e), ...rowSums.dispatch(e)], grads);
      for (let g = 0; g < 3; g++) {
        const planes = planeSumsInOrder(dys[g]!).data;
        const want = Float32Array.from({ length: 24 }, (_, co) => Math.fround(Math.fround(0 + planes[co]!) + planes[24 + co]!));
        expect(got[2 * g + 1], `db ${g}`).toEqual(want);
        const ref = conv2dBackward(f16RoundTensor(x), ws[g]!, f16RoundTensor(dys[g]!), CONV1X1);
        expectClose(got[2 * g]!, ref.dw.data, BWD.atol, BWD.rtol, `dw ${g}`);
      }
    });
  }

  // The ResBlock's conv2 with its nin_shortcut added in the same GEMM: K = 9 Ci + Ci'.
  it('adds a fused 1x1 shortcut of another input (batch 3, 3x3 over 5 channels + 1x1 over 9, 70 out, 11x13)', async () => {
    const d = gpu.device;
    const h = randomTensor([3, 5, 11, 13], 51), xs = randomTensor([3, 9, 11, 13], 52);
    const host = [randomTensor([70, 5, 3, 3], 53, 0.3), randomTensor([70], 54), randomTensor([70, 9, 1, 1], 55, 0.3), randomTensor([70], 56)];
    const [w, b, wsc, bsc] = packOnGpu(d, host, 'block.params') as [Tensor, Tensor, Tensor, Tensor];
    const y = gpuZeros(d, [3, 70, 11, 13], 'y');
    const [got] = await run(d, [conv2dForward(d, {
      x: toGpu(d, h, 'h'), w, bias: b, y, shortcut: { x: toGpu(d, xs, 'xs'), w: wsc, bias: bsc }, geometry: CONV3X3, label: 'conv2+shortcut',
    })], [y]);
    const main = conv2d(h, host[0]!, host[1]!, CONV3X3), short = conv2d(xs, host[2]!, host[3]!, CONV1X1);
    expectClose(got!, main.data.map((v, i) => v + short.data[i]!), FWD.atol, FWD.rtol, 'conv2 + shortcut');
  });

  // The up path's skip concatenation read in place by the ResBlock's fused nin_shortcut (forward)
  // and by that 1x1 convolution's backward (dx split in two, = then +=; dw over both parts, split).
  it('reads a two-part input as its channel concatenation: the fused shortcut, dx into two, dw (batch 2, 40 + 27 channels)', async () => {
    const d = gpu.device;
    const xa = randomTensor([2, 40, 5, 7], 71), xb = randomTensor([2, 27, 5, 7], 72), cat = concatChannels(xa, xb);
    const h = randomTensor([2, 6, 5, 7], 73);
    const host = [randomTensor([9, 6, 3, 3], 74, 0.3), randomTensor([9], 75), randomTensor([9, 67, 1, 1], 76, 0.3), randomTensor([9], 77)];
    const [w, b, wsc, bsc] = packOnGpu(d, host, 'block.params') as [Tensor, Tensor, Tensor, Tensor];
    const ta = toGpu(d, xa, 'xa'), tb = toGpu(d, xb, 'xb');
    const y = gpuZeros(d, [2, 9, 5, 7], 'y');
    const [got] = await run(d, [conv2dForward(d, {
      x: toGpu(d, h, 'h'), w, bias: b, y, shortcut: { x: ta, x2: tb, w: wsc, bias: bsc }, geometry: CONV3X3, label: 'conv2+shortcut',
    })], [y]);
    const short = conv2d(cat, host[2]!, host[3]!, CONV1X1);
    expectClose(got!, conv2d(h, host[0]!, host[1]!, CONV3X3).data.map((v, i) => v + short.data[i]!), FWD.atol, FWD.rtol, 'conv2 + shortcut of a ++ b');

    const dy = randomTensor([2, 9, 5, 7], 78);
    const ref = conv2dBackward(cat, host[2]!, dy, CONV1X1);
    const split = concatChannelsBackward(ref.dx, 40);
    for (const [accumulate, sp] of [[false, undefined], [true, forcedSplit(cat.shape, 35, 3, [9, 67, 1, 1])]] as const) {
      const dxa = gpuZeros(d, xa.shape, 'dxa'), dxb = gpuZeros(d, xb.shape, 'dxb');
      const [dw, db] = packOnGpu(d, [{ shape: [9, 67, 1, 1], data: new Float32Array(603) }, { shape: [9], data: new Float32Array(9) }], 'grads') as [Tensor, Tensor];
      const args = { x: ta, x2: tb, w: wsc, dy: toGpu(d, dy, 'dy'), geometry: CONV1X1, label: 'shortcut' };
      const spl = sp ?? weightGradSplit(cat.shape, [9, 67, 1, 1], CONV1X1, d.limits);
      const splitSums = splitSumsFor(d, spl);
      const twice = accumulate ? conv2dBackwardGpu(d, { ...args, input: { dx: dxa, dx2: dxb, accumulate: false } }) : [];
      const [ga, gb, gw, gdb] = await run(d, [
        ...twice, ...conv2dBackwardGpu(d, { ...args, input: { dx: dxa, dx2: dxb, accumulate }, params: { dw, db, split: spl, splitSums } }), ...splitSums.dispatch(d),
      ], [dxa, dxb, dw, db]);
      const k = accumulate ? 2 : 1;
      expectClose(ga!, split.da.data.map((v) => k * v), BWD.atol, BWD.rtol, `dx of a${accumulate ? ', +=' : ''}`);
      expectClose(gb!, split.db.data.map((v) => k * v), BWD.atol, BWD.rtol, `dx of b${accumulate ? ', +=' : ''}`);
      expectClose(gw!, ref.dw.data, BWD.atol, BWD.rtol, `dw over a ++ b, ${spl.splits} slices`);
      expectClose(gdb!, ref.db.data, BWD.atol, BWD.rtol, 'db');
    }
  });

  it('split-K weight gradients (3, 5 and 7 slices of odd length) equal the CPU reference and add into dw', async () => {
    const xs = [3, 5, 11, 13], ws = [70, 5, 3, 3];
    const x = randomTensor(xs, 11), w = randomTensor(ws, 12, 0.3), b = randomTensor([70], 13);
    const dy = randomTensor([3, 70, 11, 13], 14);
    const dw0 = randomTensor(ws, 15);
    const ref = conv2dBackward(x, w, dy, CONV3X3);
    const want = ref.dw.data.map((v, i) => v + dw0.data[i]!);
    for (const splits of [3, 5, 7]) {
      const sp = forcedSplit(xs, 11 * 13, splits, ws);
      expect(sp.splits).toBeGreaterThan(1);
      const out = await gpuConv(gpu.device, x, w, b, dy, CONV3X3, sp, dw0);
      expectClose(out.dw, want, BWD.atol, BWD.rtol, `dw with ${sp.splits} slices`);
      expectClose(out.db, ref.db.data, BWD.atol, BWD.rtol, `db with ${sp.splits} slices`);
    }
    const downsample = forcedSplit([2, 7, 10, 14], 5 * 7, 4, [9, 7, 3, 3]);
    const xd = randomTensor([2, 7, 10, 14], 16), wd = randomTensor([9, 7, 3, 3], 17), dyd = randomTensor([2, 9, 5, 7], 18);
    const outd = await gpuConv(gpu.device, xd, wd, randomTensor([9], 19), dyd, DOWNSAMPLE3X3, downsample);
    expectClose(outd.dw, conv2dBackward(xd, wd, dyd, DOWNSAMPLE3X3).dw.data, BWD.atol, BWD.rtol, 'stride-2 dw, split');
  });

  it('every tile shape gives the 64x64 tile\'s bits, on ragged tiles of each, split or not; 1x1 too', async () => {
    // M = 133 output and 130 input channels: full and ragged row tiles of 32, 64 and 128; 35 pixels a
    // sample, so every column tile is ragged.
    // Every tile on the 3x3 case; the 1x1 case's input gradient loads its weights along m (not k).
    // (The gathers themselves do not depend on the tile: stride 2 runs on 32x32 in its golden.)
    const all = Object.keys(GEMM_TILES).filter((t) => t !== '64x64');
    const cases: [number[], number[], ConvGeometry, string[]][] = [
      [[2, 130, 5, 7], [133, 130, 3, 3], CONV3X3, all],
      [[1, 37, 9, 11], [40, 37, 1, 1], CONV1X1, ['32x32']],
    ];
    for (const [xs, ws, g, tiles] of cases) {
      const x = randomTensor(xs, 31), w = randomTensor(ws, 32, 0.05), b = randomTensor([ws[0]!], 33);
      const want = conv2d(x, w, b, g);
      const dy = randomTensor(want.shape, 34);
      const ref = conv2dBackward(x, w, dy, g);
      const pixels = want.shape[2]! * want.shape[3]!;
      for (const sp of [forcedSplit(xs, pixels, 1, ws), forcedSplit(xs, pixels, 3, ws)]) {
        const base = await withGemmTile(gpu.device, '64x64', () => gpuConv(gpu.device, x, w, b, dy, g, sp));
        expectClose(base.y, want.data, FWD.atol, FWD.rtol, 'y');
        expectClose(base.dx, ref.dx.data, BWD.atol, BWD.rtol, 'dx');
        expectClose(base.dw, ref.dw.data, BWD.atol, BWD.rtol, `dw, ${sp.splits} slices`);
        for (const tile of tiles) {
          const out = await withGemmTile(gpu.device, tile, () => gpuConv(gpu.device, x, w, b, dy, g, sp));
          for (const k of ['y', 'dx', 'dw', 'db'] as const) {
            expect(out[k], `${k} on ${tile} tiles, ${xs} * ${ws}, ${sp.splits} slices`).toEqual(base[k]);
          }
        }
      }
    }
  });

  it('picks the tile from the grid: 32x32 where 64x64 tiles leave a large GPU idle, never 128x64', () => {
    const d = gpu.device;
    const one = (m: number, n: number, z: number) => gemmTile([{ m, n, z }]);
    expect(gemmLaunch(d, 192, 64 * 32 * 32, 1)).toEqual({ constants: { ROWS: 64, TN: 64 }, workgroups: [1024, 3, 1] });
    expect(one(128, 256 * 64, 1)).toEqual(GEMM_TILES['64x64']);   // batch 64 at 16 px: 512 workgroups of 64 rows
    expect(one(64, 4096 * 64, 1)).toEqual(GEMM_TILES['64x64']);    // fewer than 128 rows
    expect(one(256, 4 * 64, 64)).toEqual(GEMM_TILES['64x64']);     // attention at batch 64, 16x16 positions: 4 column tiles x 64 items
    expect(one(256, 512 * 64, 1)).toEqual(GEMM_TILES['64x64']);    // a large grid of 128 rows and more: measured slower on a GPU
    // Batch 1: the bundled model's 16 px convolutions (64 channels, 256 pixels: 4 workgroups of 64 x 64)
    // and the cifar10 model's 32 px ones (256 channels, 1024 pixels: 64).
    expect(one(64, 256, 1)).toEqual(GEMM_TILES['32x32']);
    expect(one(256, 1024, 1)).toEqual(GEMM_TILES['32x32']);
    expect(gemmLaunch(d, 64, 256, 1)).toEqual({ constants: { ROWS: 32, TN: 32 }, workgroups: [8, 2, 1] });
    // 264 workgroups of 64 x 64 fill two per SM of a 132-SM GPU; one fewer does not.
    expect(one(64, 264 * 64, 1)).toEqual(GEMM_TILES['64x64']);
    expect(one(64, 263 * 64, 1)).toEqual(GEMM_TILES['32x32']);
    // A convolution's two backward GEMMs share a dispatch, and the tile is chosen from both grids:
    // 200 + 100 workgroups of 64 x 64 fill the GPU, either alone would not.
    expect(gemmTile([{ m: 64, n: 200 * 64, z: 1 }, { m: 64, n: 100 * 64, z: 1 }])).toEqual(GEMM_TILES['64x64']);
  });

  it('takes the bias gradient into the weight-gradient GEMM where its last tile has room or its grid is small', () => {
    const d = gpu.device;
    const w = [64, 64, 3, 3];   // Ci*K*K = 576: nine full column tiles, the column of ones a tenth
    const split = (x: number[], s: number, ws = w) => sliceReduction(weightGradOutputs(ws), x[0]! * x[2]! * x[3]!, s);
    // Batch 1 at 16 px: 4 input-gradient workgroups and 10 weight-gradient ones.
    expect(conv2dBiasInGemm(d, [1, 64, 16, 16], w, CONV3X3, split([1, 64, 16, 16], 1), true)).toBe(true);
    // Batch 64: 256 + 10 x 32 slices.
    expect(conv2dBiasInGemm(d, [64, 64, 16, 16], w, CONV3X3, split([64, 64, 16, 16], 32), true)).toBe(false);
    // 27 columns: room in the last tile at any batch.
    expect(conv2dBiasInGemm(d, [64, 3, 16, 16], [64, 3, 3, 3], CONV3X3, split([64, 3, 16, 16], 32, [64, 3, 3, 3]), true)).toBe(true);
  });

  it('computes both backward GEMMs in one dispatch with the bits of one dispatch each: split or not, upsampled too', async () => {
    const x = randomTensor([2, 9, 6, 5], 41), w = randomTensor([12, 9, 3, 3], 42, 0.2), b = randomTensor([12], 43);
    const dy = randomTensor([2, 12, 6, 5], 44), dyUp = randomTensor([2, 12, 12, 10], 45);
    for (const [upsample, g, sp] of [
      [false, CONV3X3, forcedSplit([2, 9, 6, 5], 30, 1, [12, 9, 3, 3])],
      [false, CONV3X3, forcedSplit([2, 9, 6, 5], 30, 3, [12, 9, 3, 3])],
      [true, CONV3X3, forcedSplit([2, 9, 12, 10], 120, 2, [12, 9, 3, 3])],
    ] as const) {
      const grad = upsample ? dyUp : dy;
      const one = await gpuConv(gpu.device, x, w, b, grad, g, sp, undefined, upsample);
      const two = await gpuConv(gpu.device, x, w, b, grad, g, sp, undefined, upsample, true);
      for (const k of ['dx', 'dw', 'db'] as const) expect(one[k], `${k}, ${sp.splits} slices${upsample ? ', upsampled' : ''}`).toEqual(two[k]);
      const ref = conv2dBackward(upsample ? upsampleNearest2x(x) : x, w, grad, g);
      expectClose(one.dx, ref.dx.data, BWD.atol, BWD.rtol, 'dx');
      expectClose(one.dw, ref.dw.data, BWD.atol, BWD.rtol, 'dw');
    }
  });

  it('gives identical bits from run to run, split or not', async () => {
    const x = randomTensor([4, 8, 9, 9], 21), w = randomTensor([16, 8, 3, 3], 22), b = randomTensor([16], 23);
    const dy = randomTensor([4, 16, 9, 9], 24);
    for (const sp of [undefined, forcedSplit([4, 8, 9, 9], 81, 5, [16, 8, 3, 3])]) {
      const a = await gpuConv(gpu.device, x, w, b, dy, CONV3X3, sp), c = await gpuConv(gpu.device, x, w, b, dy, CONV3X3, sp);
      expect(Buffer.from(a.dw.buffer).equals(Buffer.from(c.dw.buffer))).toBe(true);
      expect(Buffer.from(a.db.buffer).equals(Buffer.from(c.db.buffer))).toBe(true);
    }
  });

  it('splits the weight gradient from the shape: hundreds of workgroups at batch 64, none at batch 1', () => {
    const limits = { maxStorageBufferBindingSize: 2 ** 27 };
    const big = weightGradSplit([64, 128, 16, 16], [128, 128, 3, 3], CONV3X3, limits);
    const tiles = Math.ceil(128 / 64) * Math.ceil((128 * 9) / 64);
    expect(big.splits * tiles).toBeGreaterThanOrEqual(512);
    expect(big.kChunk % 16).toBe(0);
    expect(big.splits * big.kChunk).toBeGreaterThanOrEqual(64 * 256);
    expect((big.splits - 1) * big.kChunk).toBeLessThan(64 * 256);
    expect(weightGradSplit([1, 32, 8, 8], [32, 32, 3, 3], CONV3X3, limits).splits).toBe(1);
    // The scratch budget bounds the split: a 1 MiB binding limit leaves room for one copy of this dW only.
    expect(weightGradSplit([64, 128, 16, 16], [128, 128, 3, 3], CONV3X3, { maxStorageBufferBindingSize: 2 ** 20 }).splits).toBe(1);
  });

  it('fuses the channel add and the residual into the forward epilogue', async () => {
    const d = gpu.device;
    const x = randomTensor([2, 4, 5, 6], 5), w = randomTensor([3, 4, 3, 3], 6), b = randomTensor([3], 7);
    const chan = randomTensor([2, 3], 8), res = randomTensor([2, 3, 5, 6], 9);
    const y = gpuZeros(d, [2, 3, 5, 6]);
    const [got] = await run(d, [conv2dForward(d, {
      x: toGpu(d, x), w: toGpu(d, w), bias: toGpu(d, b), chan: toGpu(d, chan), residual: toGpu(d, res), y, geometry: CONV3X3, label: 'fused',
    })], [y]);
    const want = conv2d(x, w, b, CONV3X3).data.map((v, i) => v + chan.data[Math.floor(i / 30)]! + res.data[i]!);
    expectClose(got!, want, FWD.atol, FWD.rtol, 'fused epilogue');
  });

  // Where the bias gradient is not the weight-gradient GEMM's column of ones (the reduced tiers; large
  // grids), the backward's dispatch also sums dy per plane: 4 planes per 256-thread workgroup of the
  // 64 x 64 tile, 1 per 64-thread workgroup of the 32 x 32 tile. Planes of 130 pixels (ragged against
  // 64 lanes); db is their in-order sum over the batch, to the last bit.
  for (const tile of ['64x64', '32x32']) {
    it(`sums dy per plane inside the backward dispatch for the bias gradient, in order (matrix-emulated, ${tile})`, async () => {
      const e = emulated.device;
      const x = randomTensor([3, 4, 10, 13], 11), w = randomTensor([5, 4, 3, 3], 12, 0.3), dy = randomTensor([3, 5, 10, 13], 13);
      const [tw, tdw, tdb] = [toGpu(e, w, 'w'), ...packOnGpu(e, [{ shape: [5, 4, 3, 3], data: new Float32Array(180) }, { shape: [5], data: new Float32Array(5) }], 'grads')] as Tensor[];
      const rowSums = new RowSums(e, RowSums.floats([3, 5]), 'conv');
      const [db] = await withGemmTile(e, tile, async () => {
        const dispatches = conv2dBackwardGpu(e, { x: toGpu(e, x, 'x'), w: tw!, dy: toGpu(e, dy, 'dy'), geometry: CONV3X3, label: 'conv', input: { dx: gpuZeros(e, x.shape), accumulate: false }, params: { dw: tdw!, db: tdb!, rowSums } });
        expect(dispatches.map((k) => k.label)).toEqual(['conv.dx+dw+db (conv2d.backward)']);
        return run(e, [...dispatches, ...rowSums.dispatch(e)], [tdb!]);
      });
      const planes = planeSumsInOrder(dy).data;
      const want = Float32Array.from({ length: 5 }, (_, co) => {
        let s = 0;
        for (let b = 0; b < 3; b++) s = Math.fround(s + planes[b * 5 + co]!);
        return s;
      });
      expect(db).toEqual(want);
    });
  }

  it('rejects a weight that does not fit the input', () => {
    const d = gpu.device;
    expect(() => conv2dForward(d, {
      x: gpuZeros(d, [1, 4, 5, 5]), w: gpuZeros(d, [3, 5, 3, 3]), y: gpuZeros(d, [1, 3, 5, 5]), geometry: CONV3X3, label: 'bad',
    })).toThrow(/bad: conv2d input \[1,4,5,5\] does not fit weight \[3,5,3,3\]/);
  });
});
