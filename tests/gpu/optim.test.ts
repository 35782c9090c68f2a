// Gradient norm, clipping, Adam and EMA on flat buffers: the PyTorch training step of
// unet-tiny.train.safetensors, and three steps with weight decay vs the CPU reference.
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import { adamStep, emaUpdate } from '../../src/kernels/adam';
import { gradNormAndClip, RowSums } from '../../src/kernels/reduce';
import { addInto } from '../../src/kernels/elementwise';
import type { Dispatch } from '../../src/gpu/kernel';
import type { HostTensor } from '../../src/host/tensor';
import { alignFloats, createTensorFrom, upload } from '../../src/gpu/tensor';
import { adamStep as refAdamStep, clipScale, emaUpdate as refEmaUpdate, globalNorm, type AdamOptions } from '../../src/ref/optim';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { gpuZeros, packOnGpu, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();

/** Elements with |a - b| <= tol, as a fraction. */
function fractionWithin(a: Float32Array, b: Float32Array, tol: number): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) <= tol) k++;
  return k / a.length;
}

function flatOptimizer(n: number, params: Float32Array, opts: AdamOptions & { maxNorm: number; rate: number }) {
  const d = gpu.device;
  const p = createTensorFrom(d, [n], params, 'params');
  const ema = createTensorFrom(d, [n], params, 'ema');
  const grads = gpuZeros(d, [n], 'grads'), m = gpuZeros(d, [n], 'adam.m'), v = gpuZeros(d, [n], 'adam.v');
  const norms = gradNormAndClip(d, { groups: [{ grads, label: 'grads' }], maxNorm: opts.maxNorm, label: 'clip' });
  const clip = norms.outs[0]!;
  const adam = adamStep(d, { params: p, grads, m, v, clip, ...opts, label: 'adam' });
  const dispatches = [
    ...norms.dispatches,
    adam.dispatch,
    emaUpdate(d, { ema, params: p, rate: opts.rate, label: 'ema' }).dispatch,
  ];
  return { p, ema, grads, m, v, clip, adam, dispatches };
}

describe('optimizer on WebGPU', () => {
  it('reproduces the PyTorch step: norm, clip to 1, Adam lr 2e-4, EMA 0.9999', async () => {
    const TRAIN = 'unet-tiny.train.safetensors';
    const train = loadReference(TRAIN);
    const weights = loadReference('unet-tiny.safetensors');
    // The trainer's layout: every tensor in file order, each at a 256-byte-aligned offset.
    const offsets: number[] = [];
    let n = 0;
    for (const t of weights.tensors.values()) {
      offsets.push(n);
      n += alignFloats(t.data.length);
    }
    const flatParams = new Float32Array(n), flatGrads = new Float32Array(n);
    [...weights.tensors].forEach(([name, t], k) => {
      flatParams.set(t.data, offsets[k]);
      flatGrads.set(getTensor(train, `grad/${name}`, t.shape, TRAIN).data, offsets[k]);
    });
    const lr = 2e-4;
    const opt = flatOptimizer(n, flatParams, { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxNorm: 1, rate: 0.9999 });
    upload(gpu.device, opt.grads, flatGrads);
    opt.adam.setStep(1);
    const [p, ema, clip] = await run(gpu.device, opt.dispatches, [opt.p, opt.ema, opt.clip]);

    const refNorm = getTensor(train, 'grad_norm_before_clip', [1], TRAIN).data[0]!;
    expect(Math.abs(clip![0]! - refNorm) / refNorm, `norm ${clip![0]} vs ${refNorm}`).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(clip![1]! - clipScale(refNorm, 1)) / clipScale(refNorm, 1)).toBeLessThanOrEqual(1e-5);
    // README contract: every element within 2 lr, and 99.9% of all elements within 1e-6.
    const stepRef = new Float32Array(n), emaRef = new Float32Array(n);
    [...weights.tensors].forEach(([name, t], k) => {
      const at = offsets[k]!, size = t.data.length;
      const ref = getTensor(train, `step1/${name}`, t.shape, TRAIN).data;
      expectClose(p!.subarray(at, at + size), ref, 2 * lr, 0, `step1/${name}`);
      stepRef.set(ref, at);
      emaRef.set(getTensor(train, `ema1/${name}`, t.shape, TRAIN).data, at);
    });
    expect(fractionWithin(p!, stepRef, 1e-6)).toBeGreaterThanOrEqual(0.999);
    expectClose(ema!, emaRef, 1e-6, 0, 'ema1');
  });

  it('three steps with weight decay and clipping on 70001 floats match the CPU reference', async () => {
    const n = 70001;
    const opts = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxNorm: 100, rate: 0.99 };
    const p0 = randomTensor([n], 1).data;
    const opt = flatOptimizer(n, p0, opts);
    const p = Float32Array.from(p0), ema = Float32Array.from(p0), m = new Float32Array(n), v = new Float32Array(n);
    // |g| ~ U(-1, 1) has norm ~153: steps 1 and 3 clip, step 2 (half the gradient) does not.
    for (const [step, gscale] of [[1, 1], [2, 0.5], [3, 1]] as const) {
      const g = randomTensor([n], 10 + step, gscale).data;
      upload(gpu.device, opt.grads, g);
      opt.adam.setStep(step);
      const [clip] = await run(gpu.device, opt.dispatches, [opt.clip]);
      const norm = globalNorm([g]);
      const scale = clipScale(norm, opts.maxNorm);
      expect(Math.abs(clip![0]! - norm) / norm, `step ${step} norm`).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(clip![1]! - scale), `step ${step} scale`).toBeLessThanOrEqual(1e-6);
      refAdamStep(p, g.map((x) => x * scale), m, v, step, opts);
      refEmaUpdate(ema, p, opts.rate);
    }
    const [gp, gm, gv, gema] = await run(gpu.device, [], [opt.p, opt.m, opt.v, opt.ema]);
    // Every element within 1e-6, tighter than the Adam contract: same formula, only f32 vs f64 rounding.
    expectClose(gp!, p, 1e-6, 0, 'params');
    expectClose(gm!, m, 1e-7, 1e-5, 'm');
    expectClose(gv!, v, 1e-9, 1e-5, 'v');
    expectClose(gema!, ema, 1e-6, 0, 'ema');
  });

  it('with a loss scale, Adam counts the steps taken: trainer step k after s skipped ones corrects as step k - s', async () => {
    const d = gpu.device;
    const n = 4099;
    const opts = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    const p0 = randomTensor([n], 3).data, g = randomTensor([n], 4).data;
    const m0 = randomTensor([n], 5, 0.1).data, v0 = randomTensor([n], 6, 0.01).data.map(Math.abs);
    // Trainer step k after `skipped` overflows; clip (1, 1, 0, S): a taken step, gradients unscaled.
    const adamAt = async (k: number, skipped: number) => {
      const params = toGpu(d, { shape: [n], data: p0 }, 'p'), m = toGpu(d, { shape: [n], data: m0 }, 'm'), v = toGpu(d, { shape: [n], data: v0 }, 'v');
      const scaler = toGpu(d, { shape: [4], data: Float32Array.of(1024, 0, 0, skipped) }, 'scaler');
      const clip = toGpu(d, { shape: [4], data: Float32Array.of(1, 1, 0, 1024) }, 'clip');
      const adam = adamStep(d, { params, grads: toGpu(d, { shape: [n], data: g }, 'g'), m, v, clip, ...opts, scaler, label: 'adam' });
      adam.setStep(k);
      return (await run(d, [adam.dispatch], [params]))[0]!;
    };
    const want = Float32Array.from(p0);
    refAdamStep(want, g, Float32Array.from(m0), Float32Array.from(v0), 3, opts);
    const afterSkips = await adamAt(5, 2);
    // The bias corrections in f32 on the GPU (as torch's capturable Adam) against float64: within 1e-6.
    expectClose(afterSkips, want, 1e-6, 0, 'step 5 after 2 skips = Adam step 3');
    expect(afterSkips).toEqual(await adamAt(3, 0));
    // Counting the skipped steps too (Adam step 5) moves the parameters elsewhere.
    const step5 = Float32Array.from(p0);
    refAdamStep(step5, g, Float32Array.from(m0), Float32Array.from(v0), 5, opts);
    expect(() => expectClose(afterSkips, step5, 1e-6, 0, 'as step 5')).toThrow();
  });

  it('leaves the scale at 1 when maxNorm <= 0, and sums over 2^20 + 12345 floats', async () => {
    const d = gpu.device;
    const g = randomTensor([(1 << 20) + 12345], 7);
    const norms = gradNormAndClip(d, { groups: [{ grads: toGpu(d, g, 'grads'), label: 'grads' }], maxNorm: 0, label: 'norm' });
    const [got] = await run(d, norms.dispatches, norms.outs);
    const norm = globalNorm([g.data]);
    expect(Math.abs(got![0]! - norm) / norm).toBeLessThanOrEqual(1e-6);
    expect(got![1]).toBe(1);
  });

  // The reduced tiers' dynamic loss scale (reduce.wgsl FLAG_LOSS_SCALE), on gradients made with S.
  it('unscales the norm and clip by S, skips a step whose scaled norm overflows (halving S), and reports an overflow at S = 1 as it is', async () => {
    const d = gpu.device;
    const g = randomTensor([5000], 9);
    const norm = globalNorm([g.data]);
    const clipOf = async (grads: Float32Array, scaler: number[], growthInterval = 3) => {
      const state = toGpu(d, { shape: [4], data: Float32Array.from(scaler) }, 'scaler');
      const norms = gradNormAndClip(d, { groups: [{ grads: toGpu(d, { shape: [grads.length], data: grads }, 'g'), label: 'g' }], maxNorm: 1, lossScale: { scaler: state, growthInterval }, label: 'clip' });
      const [o, st] = await run(d, norms.dispatches, [norms.outs[0]!, state]);
      return { out: Array.from(o!), state: Array.from(st!) };
    };
    const scaled = g.data.map((v) => v * 1024);
    const good = await clipOf(scaled, [1024, 0, 0, 5]);
    expect(Math.abs(good.out[0]! - norm) / norm).toBeLessThanOrEqual(1e-6);
    expect(good.out[1]).toBe(Math.fround(1 / Math.fround(good.out[0]! + Math.fround(1e-6))) / 1024); // f32 as the kernel, S exact
    expect(good.out.slice(2)).toEqual([0, 1024]);
    expect(good.state).toEqual([1024, 1, 0, 5]);
    expect((await clipOf(scaled, [1024, 2, 0, 5])).state).toEqual([2048, 0, 0, 5]); // the third good step in a row doubles S
    const overflowed = scaled.slice();
    overflowed[77] = Infinity;
    expect(await clipOf(overflowed, [1024, 2, 0, 5])).toEqual({ out: [0, 0, 1, 1024], state: [512, 0, 0, 6] });
    overflowed[77] = NaN;
    expect((await clipOf(overflowed, [8, 0, 0, 0])).out.slice(1)).toEqual([0, 1, 8]);
    // At S = 1 the gradients overflow unscaled: the norm says so and the trainer's guard stops the run.
    const atOne = await clipOf(g.data.map((v, i) => (i === 3 ? Infinity : v)), [1, 0, 0, 0]);
    expect(atOne.out[0]).toBe(Infinity);
    expect(atOne.out[2]).toBe(0);
  });

  // The layered model clips each sub-model alone, in one norm_clip dispatch; under a loss scale the
  // step is skipped for all of them or none, and the scale's state moves once per step.
  it('clips groups in one dispatch with the bits each has alone, and skips every group when one overflows', async () => {
    const d = gpu.device;
    const gs = [randomTensor([5000], 21), randomTensor([70000], 22), randomTensor([300], 23)].map((t) => t.data.map((v) => v * 1024));
    const clipGroups = async (grads: Float32Array[], scaler: number[]) => {
      const state = toGpu(d, { shape: [4], data: Float32Array.from(scaler) }, 'scaler');
      const norms = gradNormAndClip(d, { groups: grads.map((g, k) => ({ grads: toGpu(d, { shape: [g.length], data: g }, `g${k}`), label: `group${k}` })), maxNorm: 1, lossScale: { scaler: state, growthInterval: 10 }, label: 'clip' });
      expect(norms.dispatches.map((x) => x.kernel)).toEqual([...grads.map(() => 'reduce.sumsq_partial'), 'reduce.norm_clip']);
      const got = await run(d, norms.dispatches, [...norms.outs, state]);
      return { outs: got.slice(0, -1).map((o) => Array.from(o)), state: Array.from(got.at(-1)!) };
    };
    const together = await clipGroups(gs, [1024, 3, 0, 2]);
    for (let k = 0; k < gs.length; k++) {
      const alone = await clipGroups([gs[k]!], [1024, 3, 0, 2]);
      expect(together.outs[k]).toEqual(alone.outs[0]);
      expect(together.outs[k]![0]! / globalNorm([gs[k]!.map((v) => v / 1024)])).toBeCloseTo(1, 5);
    }
    expect(together.state).toEqual([1024, 4, 0, 2]); // one good step, not three
    const overflowed = gs.map((g) => g.slice());
    overflowed[2]![9] = Infinity;
    expect(await clipGroups(overflowed, [1024, 3, 0, 2])).toEqual({ outs: gs.map(() => [0, 0, 1, 1024]), state: [512, 0, 0, 3] });
  });

  it('covers every element of a launch split over more than 65535 workgroups (EMA of 2^24 + 4097 floats)', async () => {
    const d = gpu.device;
    const n = (1 << 24) + 4097;
    const ema = toGpu(d, { shape: [n], data: new Float32Array(n).fill(1) }, 'ema');
    const params = toGpu(d, { shape: [n], data: new Float32Array(n).fill(3) }, 'params');
    const [got] = await run(d, [emaUpdate(d, { ema, params, rate: 0.5, label: 'ema' }).dispatch], [ema]);
    expect(got!.every((x) => x === 2)).toBe(true);
  });

  it('takes a new EMA rate for each step (EMA warmup) as the CPU reference does', async () => {
    const d = gpu.device;
    const n = 1000;
    const start = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const p = Float32Array.from({ length: n }, (_, i) => Math.cos(3 * i));
    const ema = toGpu(d, { shape: [n], data: start }, 'ema');
    const params = toGpu(d, { shape: [n], data: p }, 'params');
    const update = emaUpdate(d, { ema, params, rate: 0.999, label: 'ema' });
    const want = start.slice();
    for (const rate of [0.1, 2 / 11, 0.999]) {
      update.setRate(rate);
      refEmaUpdate(want, p, rate);
      await run(d, [update.dispatch], []);
    }
    const [got] = await run(d, [], [ema]);
    expectClose(got!, want, 1e-6, 2e-7, 'ema');
    expect(() => update.setRate(1)).toThrow(/ema: EMA rate 1 is outside \[0, 1\)/);
  });

  // A backward's bias and GroupNorm gradients: (rows, count) partials per layer, one with two
  // outputs (GroupNorm's dw and db), one wider than a workgroup, summed in one dispatch.
  it('sums every queued set of row partials in one dispatch, each in row order in f32, into one or two outputs', async () => {
    const d = gpu.device;
    const shapes = [[3, 7], [1, 300], [5, 2 * 40], [64, 33]] as const;
    const partials = shapes.map((s, i) => randomTensor(s, 40 + i));
    const start = [[7], [300], [40], [40], [33]].map((s, i) => randomTensor(s, 50 + i));
    const sums = new RowSums(d, shapes.reduce((n, s) => n + RowSums.floats(s), 0), 'rows');
    const outs = packOnGpu(d, start, 'grads');
    const takes = shapes.map((s, i) => sums.take(s, `p${i}`));
    takes.forEach((t, i) => upload(d, t, partials[i]!.data));
    sums.add(takes[0]!, outs[0]!);
    sums.add(takes[1]!, outs[1]!);
    sums.add(takes[2]!, outs[2]!, outs[3]!);
    sums.add(takes[3]!, outs[4]!);
    const [dispatch, ...more] = sums.dispatch(d);
    expect(more).toHaveLength(0);
    const got = await run(d, [dispatch!], outs);
    const want = [
      inOrderSums(partials[0]!, start[0]!), inOrderSums(partials[1]!, start[1]!),
      ...splitAt(inOrderSums(partials[2]!, { shape: [80], data: Float32Array.from([...start[2]!.data, ...start[3]!.data]) }), 40),
      inOrderSums(partials[3]!, start[4]!),
    ];
    got.forEach((g, i) => expect(g, `output ${i}`).toEqual(want[i]));

    expect(() => sums.take([2, 2000], 'extra')).toThrow(/rows: planner bug: partials extra \[2,2000\] overrun the \d+ floats reserved/);
    expect(() => sums.add(toGpu(d, partials[0]!, 'stray'), outs[0]!)).toThrow(/rows: stray is not a take of these row sums/);
  });

  // The split-K weight gradients: more partial copies than the buffer holds, each queued as it is taken.
  it('takes in turn: where partials do not fit, the queued ones are summed first and the buffer starts over', async () => {
    const d = gpu.device;
    const shapes = [[4, 100], [3, 120], [6, 64], [2, 500]] as const;
    const partials = shapes.map((s, i) => randomTensor(s, 60 + i));
    const start = shapes.map((s, i) => randomTensor([s[1]], 70 + i));
    const outs = packOnGpu(d, start, 'grads');
    // room for the first two together, or the last alone
    const sums = new RowSums(d, RowSums.floats(shapes[3]), 'split');
    expect(RowSums.floats(shapes[0]) + RowSums.floats(shapes[1])).toBeLessThanOrEqual(RowSums.floats(shapes[3]));
    const recorded: Dispatch[] = [];
    let flushes = 0;
    shapes.forEach((s, i) => {
      const { partials: take, before } = sums.takeInTurn(d, s, `p${i}`);
      flushes += before.length;
      // the partials' writer (a copy here; the weight gradient's GEMM in a backward), after `before`
      recorded.push(...before, addInto(d, { x: toGpu(d, partials[i]!, `src${i}`), y: take, accumulate: false, label: `write p${i}` }));
      sums.add(take, outs[i]!);
    });
    expect(flushes, 'sums before the third and the fourth partials').toBe(2);
    recorded.push(...sums.dispatch(d));
    expect(sums.dispatch(d), 'nothing left queued').toHaveLength(0);
    const got = await run(d, recorded, outs);
    got.forEach((g, i) => expect(g, `output ${i}`).toEqual(inOrderSums(partials[i]!, start[i]!)));
    const lost = new RowSums(d, 64, 'lost');
    lost.take([1, 4], 'unqueued');
    expect(() => lost.dispatch(d)).toThrow(/lost: planner bug: 1 partials taken but not queued for a sum/);
  });

  it('rejects a non-flat gradient buffer and step 0', () => {
    const d = gpu.device;
    expect(() => gradNormAndClip(d, { groups: [{ grads: gpuZeros(d, [4, 4], 'g'), label: 'g' }], maxNorm: 1, label: 'bad' }))
      .toThrow(/bad: tensor "g" has shape \[4,4\], expected \[16\]/);
    expect(() => gradNormAndClip(d, { groups: [], maxNorm: 1, label: 'none' })).toThrow('none: no gradient groups to clip');
    const t = () => gpuZeros(d, [8]);
    const adam = adamStep(d, { params: t(), grads: t(), m: t(), v: t(), clip: gpuZeros(d, [4]), lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, label: 'adam' });
    expect(() => adam.setStep(0)).toThrow(/adam: Adam step=0/);
  });
});

/** start + the sum of t's rows, in row order, in f32: what sum_rows_table computes, bit for bit. */
function inOrderSums(t: HostTensor, start: HostTensor): Float32Array {
  const [rows, count] = t.shape as [number, number];
  return Float32Array.from({ length: count }, (_, c) => {
    let s = 0;
    for (let r = 0; r < rows; r++) s = Math.fround(s + t.data[r * count + c]!);
    return Math.fround(start.data[c]! + s);
  });
}

function splitAt(a: Float32Array, at: number): Float32Array[] {
  return [a.slice(0, at), a.slice(at)];
}
