// The training loop of the DDPM objective over an in-memory dataset, with checkpoints that resume
// exactly. All randomness is a function of (seed, step): batch indices, timesteps and flips come
// from the Philox generator on the host, noise and dropout masks from the same generator on the
// GPU. So a run resumed at step s repeats the uninterrupted run's losses.
//
// Within a call of trainSteps nothing is read back: each step's loss and gradient norm go to a
// LossRing on the GPU, read once at the end of the call.
import { recordDispatches, type Dispatch } from '../gpu/kernel';
import { GpuOwner } from '../gpu/owner';
import { readTensor, upload, type Tensor } from '../gpu/tensor';
import type { HostTensor, SafetensorsFile } from '../host/tensor';
import { FILE_FORMATS, metadataJson } from '../host/metadata';
import { createRngState, gaussianFill, setRngState } from '../kernels/rng';
import { alphaBars, betaSchedule, diffusionFromMetadata, type DiffusionConfig } from '../diffusion/schedule';
import { configFromMetadata, type UNetConfig } from '../nn/config';
import { initParameters } from '../nn/init';
import type { ParamStore } from '../nn/params';
import type { ImageDataset } from './data';
import { NOISE_STREAM, drawBatch, drawTimesteps } from './draws';
import { LossRing } from './loss-ring';
import { readStores, restoreStores } from './stores';
import { PLAIN_SCHEDULES, emaRateAt, learningRate, lossWeightOfT, type RecipeOptions } from './recipe';
import { TrainStep } from './step';
import { LOSS_SCALE_TENSOR, restoreLossScale, savedLossScale } from './loss-scale';
import type { OptimizerOptions } from './optimizer';

export interface TrainerOptions extends OptimizerOptions, RecipeOptions {
  batch: number;
  seed: number;
  /** Mirror each training image horizontally with probability 1/2. */
  randomFlip: boolean;
}

/** Largest training batch: the Train tab's and the CLI's limit alike (memory is checked separately). */
export const MAX_TRAIN_BATCH = 256;

/**
 * Validates trainer options wherever they come from (the Train tab, `ddim train`, a checkpoint's
 * metadata), naming `source` and the field: the one place their bounds live.
 */
export function checkTrainerOptions(raw: unknown, source: string, labels: Partial<Record<keyof TrainerOptions, string>> = {}): TrainerOptions {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${source}: trainer options must be a JSON object, got ${JSON.stringify(raw)}`);
  const o = raw as Record<string, unknown>;
  // A field is named as its caller shows it (`labels`: the Train tab's labels), else by its key.
  const num = (name: keyof TrainerOptions, ok: (v: number) => boolean, range: string): number => {
    const v = o[name];
    const got = typeof v === 'number' && Number.isNaN(v) ? 'no number' : JSON.stringify(v);
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new Error(`${source}: ${labels[name] ?? name} must be ${range}, got ${got}`);
    return v;
  };
  const int = (v: number): boolean => Number.isInteger(v);
  const flip = o.randomFlip;
  if (typeof flip !== 'boolean') throw new Error(`${source}: randomFlip must be true or false, got ${JSON.stringify(flip)}`);
  return {
    batch: num('batch', (v) => int(v) && v >= 1 && v <= MAX_TRAIN_BATCH, `an integer in [1, ${MAX_TRAIN_BATCH}]`),
    seed: num('seed', (v) => int(v) && v >= 0 && v <= 0xffffffff, 'an integer in [0, 2^32)'),
    randomFlip: flip,
    warmupSteps: num('warmupSteps', (v) => int(v) && v >= 0 && v <= 1e7, 'an integer in [0, 10^7]'),
    lr: num('lr', (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    beta1: num('beta1', (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    beta2: num('beta2', (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    eps: num('eps', (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    weightDecay: num('weightDecay', (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    gradClip: num('gradClip', (v) => v > 0, 'a number above 0'),
    emaRate: num('emaRate', (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    ...checkSchedules(o, source, num, labels),
  };
}

/** The recipe's schedule options; a checkpoint from before they existed trained with PLAIN_SCHEDULES. */
function checkSchedules(
  o: Record<string, unknown>, source: string, num: (name: keyof TrainerOptions, ok: (v: number) => boolean, range: string) => number,
  labels: Partial<Record<keyof TrainerOptions, string>>,
): typeof PLAIN_SCHEDULES {
  const has = (k: keyof typeof PLAIN_SCHEDULES): boolean => o[k] !== undefined;
  const choice = <T extends string>(name: keyof typeof PLAIN_SCHEDULES, allowed: readonly T[]): T => {
    if (!has(name)) return PLAIN_SCHEDULES[name] as T;
    const v = o[name];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new Error(`${source}: ${labels[name] ?? name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  const emaWarmup = has('emaWarmup') ? o.emaWarmup : PLAIN_SCHEDULES.emaWarmup;
  if (typeof emaWarmup !== 'boolean') throw new Error(`${source}: ${labels.emaWarmup ?? 'emaWarmup'} must be true or false, got ${JSON.stringify(emaWarmup)}`);
  return {
    lrDecay: choice('lrDecay', ['none', 'cosine'] as const),
    decaySteps: has('decaySteps') ? num('decaySteps', (v) => Number.isInteger(v) && v >= 1 && v <= 1e8, 'an integer in [1, 10^8]') : PLAIN_SCHEDULES.decaySteps,
    lrMin: has('lrMin') ? num('lrMin', (v) => v >= 0 && v <= 1, 'a number in [0, 1]') : PLAIN_SCHEDULES.lrMin,
    emaWarmup,
    lossWeight: choice('lossWeight', ['none', 'min_snr'] as const),
    snrGamma: has('snrGamma') ? num('snrGamma', (v) => v > 0 && v <= 1e4, 'a number in (0, 10^4]') : PLAIN_SCHEDULES.snrGamma,
  };
}

export class Trainer {
  /** Optimisation steps taken so far. */
  step = 0;
  readonly train: TrainStep;
  private readonly abar: Float64Array;
  /** Per-timestep loss weights (min-SNR), or undefined for the unweighted loss. */
  private readonly weightOfT: Float64Array | undefined;
  private readonly batchImages: Float32Array;
  private readonly noiseState: Tensor;
  private readonly noiseDraw: Dispatch;
  /** Steps of the run the dynamic loss scale skipped (their f16 operands overflowed), a resumed
   *  checkpoint's included. */
  skippedSteps = 0;
  /** Each step's loss, gradient norm and whether the loss scale skipped it, read once per call. */
  private readonly lossRing: LossRing;
  /** The trainer's buffers, its training step's included. */
  private readonly owner: GpuOwner;

  constructor(
    private readonly device: GPUDevice,
    readonly config: UNetConfig,
    readonly diffusion: DiffusionConfig,
    /** Checked by the caller (checkTrainerOptions, at the Train tab, `ddim train` and checkpoint loading). */
    readonly options: TrainerOptions,
    readonly data: ImageDataset,
  ) {
    if (data.channels !== config.in_channels || data.resolution !== config.resolution) {
      throw new Error(`${data.id}: images are ${data.channels}x${data.resolution}x${data.resolution}, ` +
        `the model takes ${config.in_channels}x${config.resolution}x${config.resolution}`);
    }
    this.abar = alphaBars(betaSchedule(diffusion));
    this.weightOfT = lossWeightOfT(this.options, this.abar);
    this.owner = new GpuOwner('trainer');
    const scope = this.owner.open();
    try {
      this.train = new TrainStep(device, config, this.options.batch, this.options);
      this.batchImages = new Float32Array(this.train.x0.shape.reduce((a, b) => a * b, 1));
      this.noiseState = createRngState(device, 'trainer.noise_rng');
      this.noiseDraw = gaussianFill(device, { out: this.train.noise, state: this.noiseState, stream: NOISE_STREAM, label: 'trainer.noise' });
      this.lossRing = new LossRing(device, ['loss', 'gradient norm', 'loss-scale skip'], 'trainer');
      scope.keep();
    } finally {
      scope.close();
    }
  }

  /** Frees every GPU buffer of the trainer. */
  destroy(): void {
    this.owner.destroy();
  }

  /** A run from fresh weights: PyTorch's default init, seeded by the options' seed (EMA the same, Adam moments zero). */
  static fresh(device: GPUDevice, config: UNetConfig, diffusion: DiffusionConfig, options: TrainerOptions, data: ImageDataset): Trainer {
    const trainer = new Trainer(device, config, diffusion, options, data);
    trainer.loadWeights(initParameters(trainer.train.net.layout, options.seed));
    return trainer;
  }

  /** Starts from these weights (EMA too); Adam moments zero. */
  loadWeights(flat: Float32Array): void {
    upload(this.device, this.train.net.params.flat, flat);
    upload(this.device, this.train.ema.flat, flat);
  }

  /** Learning rate at (1-based) step k (warmup, then constant or cosine decay). */
  learningRate(k: number): number {
    return learningRate(this.options, k);
  }

  /** Runs `n` steps (one submit each) and returns their losses; throws TrainingDiverged at the first
   *  step whose loss or gradient norm is not finite (the trainer is then unusable: destroy it). */
  async trainSteps(n: number): Promise<Float32Array> {
    LossRing.checkSteps(n, 'trainer');
    const { batch: B, seed } = this.options;
    for (let i = 0; i < n; i++) {
      const k = ++this.step;
      drawBatch(this.data, seed, k, B, this.options.randomFlip, this.batchImages);
      upload(this.device, this.train.x0, this.batchImages);
      this.train.setTimesteps(drawTimesteps(seed, k, B, this.abar.length), this.abar, this.weightOfT);
      this.train.optimizer.setEmaRate(emaRateAt(this.options, k));
      setRngState(this.device, this.noiseState, seed, k);
      if (this.train.net.rngState) setRngState(this.device, this.train.net.rngState, seed, k);
      const encoder = this.device.createCommandEncoder({ label: `train step ${k}` });
      const pass = encoder.beginComputePass({ label: 'noise' });
      recordDispatches(pass, [this.noiseDraw]);
      pass.end();
      this.train.encode(encoder, k, this.learningRate(k));
      this.lossRing.record(encoder, i, [this.train.loss, this.train.gradNorm, this.train.gradNorm], [0, 0, 2]);
      this.device.queue.submit([encoder.finish()]);
    }
    const rows = await this.lossRing.read(this.device, n, this.step - n + 1);
    for (const r of rows) this.skippedSteps += r[2]!;
    return Float32Array.from(rows, (r) => r[0]!);
  }

  /** The checkpoint's tensors by prefix: weights, EMA, Adam moments. */
  private get stores(): [string, ParamStore][] {
    const t = this.train;
    return [['model/', t.net.params], ['ema/', t.ema], ['adam_m/', t.m], ['adam_v/', t.v]];
  }

  /** Everything needed to continue exactly: weights, EMA, Adam moments, step, seed, configs. */
  async checkpoint(): Promise<{ tensors: Map<string, HostTensor>; metadata: Record<string, string> }> {
    const tensors = await readStores(this.stores, `checkpoint at step ${this.step}`);
    // The dynamic loss scale's state, so that a resumed run continues with the same scale.
    if (this.train.lossScale) tensors.set(LOSS_SCALE_TENSOR, { shape: [4], data: await readTensor(this.device, this.train.lossScale) });
    const metadata = {
      format: FILE_FORMATS.checkpoint,
      model: JSON.stringify(this.config),
      diffusion: JSON.stringify(this.diffusion),
      trainer: JSON.stringify(this.options),
      step: String(this.step),
      dataset: this.data.id,
    };
    return { tensors, metadata };
  }

  /** What a checkpoint file continues with (format, step, configs and options validated). */
  static saved(file: SafetensorsFile, source: string): { config: UNetConfig; diffusion: DiffusionConfig; options: TrainerOptions; step: number } {
    const md = file.metadata;
    if (md.format !== FILE_FORMATS.checkpoint) throw new Error(`${source}: not a training checkpoint (__metadata__.format is ${JSON.stringify(md.format)})`);
    const step = Number(md.step);
    if (!Number.isInteger(step) || step < 0) throw new Error(`${source}: bad step ${JSON.stringify(md.step)} in __metadata__`);
    const raw = metadataJson(md, 'trainer', source);
    if (raw === undefined) throw new Error(`${source}: no trainer options in __metadata__ (expected a "trainer" entry)`);
    const options = checkTrainerOptions(raw, `${source}: __metadata__.trainer`);
    return { config: configFromMetadata(md, source), diffusion: diffusionFromMetadata(md, source), options, step };
  }

  /** Rebuilds a trainer from a checkpoint file; every tensor is validated before anything is written. */
  static fromCheckpoint(device: GPUDevice, file: SafetensorsFile, source: string, data: ImageDataset, saved = Trainer.saved(file, source)): Trainer {
    const { config, diffusion, options, step } = saved;
    const scale = savedLossScale(file, step, source);
    const trainer = new Trainer(device, config, diffusion, options, data);
    restoreStores(file, source, trainer.stores);
    trainer.skippedSteps = restoreLossScale(device, trainer.train.lossScale, scale);
    trainer.step = step;
    return trainer;
  }
}
