// The reduced-precision tiers on the emulated backend (the matrix tier's arithmetic in core WGSL, so
// SwiftShader runs it): the GEMM operands are the CPU's f16 rounding, every conv GEMM (ragged edges,
// split-K, both row tiles) and the attention's matmul match a CPU reference with f16-rounded operands,
// whole models keep the precision contract of the README ("Precision tiers") against fp32, and the
// training step's dynamic loss scale skips a step whose f16 operands overflow.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getTensor, parseSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import { batchedMatmul } from '../../src/kernels/matmul';
import { conv2d, conv2dBackward } from '../../src/ref/conv2d';
import { f16Round, f16RoundTensor } from '../../src/ref/f16';
import { CONV1X1, CONV3X3, DOWNSAMPLE3X3, type ConvGeometry } from '../../src/host/layers';
import type { HostTensor } from '../../src/host/tensor';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { BWD, FWD, gpuZeros, randomTensor, run, toGpu, useGpu, withGemmTile } from './harness';
import { forcedSplit, gpuConv } from './conv-harness';
import { DATA, expectExactResume } from './trainer-resume';
import { Trainer } from '../../src/train/trainer';
import { inProcessCli, readOutput } from './cli-harness';
import { configFromMetadata } from '../../src/nn/config';
import { readTensors, upload } from '../../src/gpu/tensor';
import { alphaBars, betaSchedule, DEFAULT_DIFFUSION } from '../../src/diffusion/schedule';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer';
import { TrainStep } from '../../src/train/step';
import { LayeredTrainer, initLayered, type LayeredTrainOptions } from '../../src/research/trainer';
import { data as layeredData, metadata as layeredMetadata, model as layeredModel } from './layered-small';
import { INITIAL_LOSS_SCALE, LOSS_SCALE_GROWTH_INTERVAL } from '../../src/train/loss-scale';

const REF = new URL('../../../shared/reference/', import.meta.url).pathname;
const emulated = useGpu('matrix-emulated');
const ddim = inProcessCli(useGpu());

/** ||got - ref|| / ||ref||, over all elements. */
function relativeL2(got: Float32Array, ref: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (got[i]! - ref[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('matrix-emulated GEMMs', () => {
  it('stage every operand as the CPU rounds it to f16: ties to even, subnormals, overflow to inf, NaN', async () => {
    const d = emulated.device;
    // A (37 x 19) times the identity: each output is one operand value times one (plus exact zeros).
    const special = [1 + 2 ** -11, 1 + 3 * 2 ** -11, -0.1, 65519.99, 65520, -7e4, 2 ** -25, 3 * 2 ** -25, 5e-8, 6.1e-5, 1e-9, NaN, 2 ** -24 * 1023];
    const a = randomTensor([37, 19], 5, 3);
    special.forEach((v, i) => (a.data[i * 41] = v)); // one per row
    const eye: HostTensor = { shape: [19, 19], data: Float32Array.from({ length: 361 }, (_, i) => (i % 20 === 0 ? 1 : 0)) };
    const c = gpuZeros(d, [37, 19], 'c');
    const args = { batch: 1, m: 37, n: 19, k: 19, aStrides: [0, 19, 1] as const, bStrides: [0, 19, 1] as const, accumulate: false, label: 'a x I' };
    const [got] = await run(d, [batchedMatmul(d, { ...args, a: toGpu(d, a), b: toGpu(d, eye), c })], [c]);
    const want = new Float32Array(37 * 19);
    for (let m = 0; m < 37; m++) {
      for (let n = 0; n < 19; n++) {
        let s = 0;
        for (let k = 0; k < 19; k++) s += f16Round(a.data[m * 19 + k]!) * eye.data[k * 19 + n]!;
        want[m * 19 + n] = s;
      }
    }
    expect(got).toEqual(want);
    expect(got!.filter((v) => v === Infinity).length).toBe(1);
  });

  const CASES: [string, number[], number[], ConvGeometry][] = [
    ['3x3 batch 3, 70 out channels, 11x13', [3, 5, 11, 13], [70, 5, 3, 3], CONV3X3],
    ['3x3 stride 2 batch 1, 10x14', [1, 7, 10, 14], [9, 7, 3, 3], DOWNSAMPLE3X3],
    ['1x1 batch 3, 67 in channels', [3, 67, 5, 3], [6, 67, 1, 1], CONV1X1],
  ];
  // The 128- and 32-row tiles (their own pipelines) on the case with enough rows for them.
  CASES.forEach(([name, xs, ws, g], c) => {
    const tiles = c === 0 ? ['64x64', '128x64', '32x32'] : ['64x64'];
    it(`conv ${name}: forward and both gradients match the reference on f16-rounded operands, split-K${c === 0 ? ' and every tile shape' : ''} too`, async () => {
      const x = randomTensor(xs, 11), w = randomTensor(ws, 12, 0.3), b = randomTensor([ws[0]!], 13);
      const y32 = conv2d(x, w, b, g);
      const dy = randomTensor(y32.shape, 14);
      // Forward rounds w and x; the input gradient w and dy; the weight gradient dy and x. The bias
      // is added in the f32 epilogue, and its gradient is an f32 sum of dy (not the fp32 tier's
      // GEMM column of ones, which would round dy).
      const xr = f16RoundTensor(x), wr = f16RoundTensor(w), dyr = f16RoundTensor(dy);
      const y = conv2d(xr, wr, b, g);
      const { dx, dw } = conv2dBackward(xr, wr, dyr, g);
      const { db } = conv2dBackward(x, w, dy, g);
      const split = forcedSplit(xs, y.shape[2]! * y.shape[3]!, 3, ws);
      for (const tile of tiles) {
        const out = await withGemmTile(emulated.device, tile, () => gpuConv(emulated.device, x, w, b, dy, g, split));
        expectClose(out.y, y.data, FWD.atol, FWD.rtol, `${tile} tiles y`);
        expectClose(out.dx, dx.data, BWD.atol, BWD.rtol, `${tile} tiles dx`);
        expectClose(out.dw, dw.data, BWD.atol, BWD.rtol, `${tile} tiles dw`);
        expectClose(out.db, db.data, BWD.atol, BWD.rtol, `${tile} tiles db`);
        // The rounding is real: fp32 operands give a result outside those tolerances.
        expect(() => expectClose(out.y, y32.data, FWD.atol, FWD.rtol, 'y vs fp32')).toThrow();
      }
    });
  });
});

// README, "Precision tiers": forward eps within relative L2 3e-3 of fp32; a training step's loss and
// every gradient within 1e-2 (a gradient's error relative to the larger of its own norm and 1e-3 of
// the largest gradient norm: some are zero in exact arithmetic, as in the golden's contract).
const FORWARD_CONTRACT = 3e-3;
const TRAIN_CONTRACT = 1e-2;

describe('the precision contract on the reference UNets (matrix-emulated)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ddim-tier-'));
  for (const [weights, golden] of [['unet-tiny', 'unet-tiny.forward'], ['unet-layered', 'unet-layered.forward']]) {
    it(`ddim forward --precision matrix-emulated on ${weights}: eps within ${FORWARD_CONTRACT} of fp32, and not identical`, async () => {
      const eps: Float32Array[] = [];
      for (const precision of ['fp32', 'matrix-emulated']) {
        const out = join(dir, `${weights}.${precision}.safetensors`);
        const r = await ddim('forward', '--weights', `${REF}${weights}.safetensors`, '--input', `${REF}${golden}.safetensors`, '--out', out, '--precision', precision);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`(precision ${precision})`);
        eps.push(getTensor(readOutput(out), 'eps').data);
      }
      const ref = getTensor(loadReference(`${golden}.safetensors`), 'eps').data;
      const err = relativeL2(eps[1]!, eps[0]!);
      console.log(`${weights} eps, matrix-emulated vs fp32: relative L2 ${err.toExponential(2)} (contract ${FORWARD_CONTRACT})`);
      expect(err).toBeLessThanOrEqual(FORWARD_CONTRACT);
      expect(err).toBeGreaterThan(0);
      expect(relativeL2(eps[1]!, ref)).toBeLessThanOrEqual(FORWARD_CONTRACT);
    });
  }

  it(`ddim train-step --precision matrix-emulated: loss and every gradient within ${TRAIN_CONTRACT} of the fp32 golden`, async () => {
    const out = join(dir, 'train.safetensors');
    const r = await ddim('train-step', '--weights', `${REF}unet-tiny.safetensors`, '--batch', `${REF}unet-tiny.train.safetensors`, '--out', out, '--precision', 'matrix-emulated');
    expect(r.code, r.stderr).toBe(0);
    const f = readOutput(out);
    const golden = loadReference('unet-tiny.train.safetensors');
    const loss = getTensor(f, 'loss').data[0]!, refLoss = getTensor(golden, 'loss').data[0]!;
    expect(Math.abs(loss - refLoss) / refLoss).toBeLessThanOrEqual(TRAIN_CONTRACT);
    expect(loss).not.toBe(refLoss);
    const grads = [...f.tensors].filter(([n]) => n.startsWith('grad/'));
    const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
    const floor = 1e-3 * Math.max(...grads.map(([n]) => norm(getTensor(golden, n).data)));
    const worst = grads.map(([n, t]) => {
      const ref = getTensor(golden, n).data;
      return [n, norm(t.data.map((v, i) => v - ref[i]!)) / Math.max(norm(ref), floor)] as const;
    }).sort((p, q) => q[1] - p[1]);
    console.log(`train step, matrix-emulated vs the fp32 golden: loss ${(Math.abs(loss - refLoss) / refLoss).toExponential(2)}, worst gradient ${worst[0]![0]} ${worst[0]![1].toExponential(2)} (contract ${TRAIN_CONTRACT})`);
    expect(worst[0]![1], `worst gradient ${worst[0]![0]}`).toBeLessThanOrEqual(TRAIN_CONTRACT);
  });
});

describe('the dynamic loss scale of a training step (matrix-emulated)', () => {
  it('a run resumes exactly from its checkpoint, the loss scale\'s state travelling in it', async () => {
    const ckpt = await expectExactResume(emulated.device, 1);
    expect(Array.from(ckpt.tensors.get('loss_scale')!.data)).toEqual([2 ** 10, 1, 0, 0]); // one good step, none skipped
    // Adam's count is the step minus the skipped steps: a count beyond the step is refused by name;
    // one within it is the run's count of skipped steps (the Train tab and `ddim train` show it).
    const withSkips = (skipped: number) => parseSafetensors(serializeSafetensors(
      new Map(ckpt.tensors).set('loss_scale', { shape: [4], data: Float32Array.of(2 ** 10, 1, 0, skipped) }), ckpt.metadata), 'ckpt');
    expect(() => Trainer.fromCheckpoint(emulated.device, withSkips(2), 'bad.safetensors', DATA))
      .toThrow('bad.safetensors: tensor "loss_scale" counts 2 skipped steps; expected an integer from 0 to the checkpoint\'s step 1');
    const resumed = Trainer.fromCheckpoint(emulated.device, withSkips(1), 'ckpt.safetensors', DATA);
    expect(resumed.skippedSteps).toBe(1);
    resumed.destroy();
  }, 300_000);

  it('skips a step whose scaled gradients overflow the f16 operands (nothing moves, S halves), then steps at a workable S, doubling it after the growth interval', async () => {
    const d = emulated.device;
    const weights = loadReference('unet-tiny.safetensors'), golden = loadReference('unet-tiny.train.safetensors');
    const config = configFromMetadata(weights.metadata, 'unet-tiny.safetensors');
    const step = new TrainStep(d, config, 2, DEFAULT_OPTIMIZER, 'scaled');
    try {
      const initial = step.net.params.pack(weights, 'unet-tiny.safetensors');
      upload(d, step.net.params.flat, initial);
      upload(d, step.ema.flat, initial);
      upload(d, step.x0, getTensor(golden, 'x0').data);
      upload(d, step.noise, getTensor(golden, 'noise').data);
      step.setTimesteps(getTensor(golden, 't').data, alphaBars(betaSchedule(DEFAULT_DIFFUSION)));
      // Step k from the initial weights and zero moments, with the loss scale's state `scaler`.
      const runStep = async (k: number, scaler: number[]) => {
        upload(d, step.net.params.flat, initial);
        for (const t of [step.m.flat, step.v.flat]) upload(d, t, new Float32Array(initial.length));
        upload(d, step.lossScale!, Float32Array.from(scaler));
        const encoder = d.createCommandEncoder();
        step.encode(encoder, k);
        d.queue.submit([encoder.finish()]);
        const [clip, state, params, m] = await readTensors(d, [step.gradNorm, step.lossScale!, step.net.params.flat, step.m.flat]);
        return { clip: Array.from(clip!), state: Array.from(state!), params: params!, m: m! };
      };
      // 2^40 times d loss / d eps is far beyond f16's 65504: the backward GEMMs' operands overflow.
      const skipped = await runStep(1, [2 ** 40, 5, 0, 0]);
      expect(skipped.clip).toEqual([0, 0, 1, 2 ** 40]);
      expect(skipped.state).toEqual([2 ** 39, 0, 0, 1]);
      expect(skipped.params).toEqual(initial);
      expect(skipped.m.every((v) => v === 0)).toBe(true);
      // Step 2 at the initial S: taken, its norm the unscaled one, and the interval's last good step
      // doubles S. It is Adam's first step (the skipped one is not counted, as under torch's
      // GradScaler): the same bits as step 1 of a run that skipped nothing.
      const taken = await runStep(2, [2 ** 10, LOSS_SCALE_GROWTH_INTERVAL - 1, 0, 1]);
      expect(taken.clip.slice(2)).toEqual([0, 2 ** 10]);
      const refNorm = getTensor(golden, 'grad_norm_before_clip').data[0]!;
      expect(Math.abs(taken.clip[0]! - refNorm) / refNorm).toBeLessThanOrEqual(TRAIN_CONTRACT);
      expect(taken.state).toEqual([2 ** 11, 0, 0, 1]);
      expect(taken.params.every(Number.isFinite)).toBe(true);
      expect(taken.params).not.toEqual(initial);
      expect(taken.params).toEqual((await runStep(1, [2 ** 10, 0, 0, 0])).params);
      expect(Array.from(INITIAL_LOSS_SCALE)).toEqual([2 ** 10, 0, 0, 0]);
    } finally {
      step.destroy();
    }
  });
});

describe('the dynamic loss scale of the layered trainer (matrix-emulated)', () => {
  const options = (mode: 'layer' | 'end2end'): LayeredTrainOptions => ({ ...DEFAULT_OPTIMIZER, lr: 2e-3, emaRate: 0.9, mode, groundTruth: 'D', useTrueXAsX: false, lossWeights: false, batch: 2, seed: 1, randomFlip: true });
  const raw = async (trainer: LayeredTrainer) => new Map([...(await trainer.checkpoint(layeredMetadata)).tensors].filter(([n]) => n.startsWith('model/') || n.startsWith('adam_m/')));

  // The chain's loss gradients are scaled too: S = 2^40 overflows there as well.
  it('end2end: skips a step whose scaled gradients overflow', { timeout: 300_000 }, async () => {
    const trainer = new LayeredTrainer(emulated.device, layeredModel, options('end2end'), await layeredData, initLayered(layeredModel, 3));
    try {
      const before = await raw(trainer);
      upload(emulated.device, trainer.lossScale!, Float32Array.of(2 ** 40, 0, 0, 0));
      await trainer.trainSteps(1);
      expect(trainer.skippedSteps).toBe(1);
      for (const [name, t] of await raw(trainer)) expect(t.data, name).toEqual(before.get(name)!.data);
    } finally {
      trainer.destroy();
    }
  });

  // The per-sub-model clip ("layer") has one norm per sub-model and one skip decision for them all.
  it('layer: skips an overflowing step for every sub-model, counts it, and carries its state through a checkpoint', { timeout: 300_000 }, async () => {
    const d = emulated.device;
    const trainer = new LayeredTrainer(d, layeredModel, options('layer'), await layeredData, initLayered(layeredModel, 3));
    try {
      const before = await raw(trainer);
      // 2^40 times the loss gradient overflows the f16 operands: no sub-model moves, S halves once.
      upload(d, trainer.lossScale!, Float32Array.of(2 ** 40, 0, 0, 0));
      expect((await trainer.trainSteps(1))[0]!.every(Number.isFinite)).toBe(true);
      expect(trainer.skippedSteps).toBe(1);
      for (const [name, t] of await raw(trainer)) expect(t.data, name).toEqual(before.get(name)!.data);
      // At the initial S the next step is taken by every sub-model.
      upload(d, trainer.lossScale!, Float32Array.of(2 ** 10, 0, 0, 1));
      await trainer.trainSteps(1);
      const taken = await raw(trainer);
      for (const t of layeredModel.seq.filter((t) => t > 0)) {
        const name = `model/models.${t}.conv_in.weight`;
        expect(taken.get(name)!.data, name).not.toEqual(before.get(name)!.data);
      }
      const ckpt = await trainer.checkpoint(layeredMetadata);
      expect(Array.from(ckpt.tensors.get('loss_scale')!.data)).toEqual([2 ** 10, 1, 0, 1]);
      const file = (skipped: number) => parseSafetensors(serializeSafetensors(
        new Map(ckpt.tensors).set('loss_scale', { shape: [4], data: Float32Array.of(2 ** 10, 1, 0, skipped) }), ckpt.metadata), 'ckpt');
      const data = await layeredData;
      expect(() => LayeredTrainer.resume(d, file(3), 'bad.safetensors', data))
        .toThrow('bad.safetensors: tensor "loss_scale" counts 3 skipped steps; expected an integer from 0 to the checkpoint\'s step 2');
      const resumed = LayeredTrainer.resume(d, file(1), 'ckpt.safetensors', data);
      expect(resumed.skippedSteps).toBe(1);
      resumed.destroy();
    } finally {
      trainer.destroy();
    }
  });
});
