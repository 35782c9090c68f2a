// The training loop of the DDPM objective over an in-memory dataset, with checkpoints that resume
// exactly. All randomness is a function of (seed, step): batch indices, timesteps and flips come
// from the Philox generator on the host, noise and dropout masks from the same generator on the
// GPU. So a run resumed at step s repeats the uninterrupted run's losses.
//
// Within a call of trainSteps nothing is read back: each step's loss is copied into a ring on the
// GPU, and the ring is read once at the end of the call.
import { recordDispatches, type Dispatch } from '../gpu/kernel';
import { createTensor, readTensor, upload, type Tensor } from '../gpu/tensor';
import type { HostTensor, SafetensorsFile } from '../io/safetensors';
import { metadataJson } from '../io/metadata';
import { createRngState, gaussianFill, setRngState } from '../kernels/rng';
import { uniform } from '../ref/rng';
import { alphaBars, betaSchedule, diffusionFromMetadata, type DiffusionConfig } from '../diffusion/schedule';
import { configFromMetadata, type UNetConfig } from '../nn/config';
import type { ParamStore } from '../nn/params';
import { gatherBatch, type ImageDataset } from './data';
import { TrainStep, type OptimizerOptions } from './step';

export interface TrainerOptions extends OptimizerOptions {
  batch: number;
  seed: number;
  /** Mirror each training image horizontally with probability 1/2. */
  randomFlip: boolean;
  /** Linear learning-rate warmup over this many steps (0: none). */
  warmupSteps: number;
}

// Philox streams of the host draws (the GPU noise uses NOISE_STREAM; dropout uses the UNet's own).
const INDEX_STREAM = 1;
const TIMESTEP_STREAM = 2;
const FLIP_STREAM = 3;
const NOISE_STREAM = 4;
const MAX_STEPS_PER_CALL = 1024;

export const CHECKPOINT_FORMAT = 'ddim-checkpoint';

export class Trainer {
  /** Optimisation steps taken so far. */
  step = 0;
  readonly train: TrainStep;
  private readonly abar: Float64Array;
  private readonly batchImages: Float32Array;
  private readonly noiseState: Tensor;
  private readonly noiseDraw: Dispatch;
  private readonly lossRing: Tensor;

  constructor(
    private readonly device: GPUDevice,
    readonly config: UNetConfig,
    readonly diffusion: DiffusionConfig,
    readonly options: TrainerOptions,
    readonly data: ImageDataset,
  ) {
    if (data.channels !== config.in_channels || data.resolution !== config.resolution) {
      throw new Error(`${data.id}: images are ${data.channels}x${data.resolution}x${data.resolution}, ` +
        `the model takes ${config.in_channels}x${config.resolution}x${config.resolution}`);
    }
    if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
      throw new Error(`trainer: seed must be an integer in [0, 2^32), got ${options.seed}`);
    }
    this.abar = alphaBars(betaSchedule(diffusion));
    this.train = new TrainStep(device, config, options.batch, options);
    this.batchImages = new Float32Array(this.train.x0.shape.reduce((a, b) => a * b, 1));
    this.noiseState = createRngState(device, 'trainer.noise_rng');
    this.noiseDraw = gaussianFill(device, { out: this.train.noise, state: this.noiseState, stream: NOISE_STREAM, label: 'trainer.noise' });
    this.lossRing = createTensor(device, [MAX_STEPS_PER_CALL], 'trainer.losses');
  }

  /** Starts from these weights (EMA too); Adam moments zero. */
  loadWeights(flat: Float32Array): void {
    upload(this.device, this.train.net.params.flat, flat);
    upload(this.device, this.train.ema.flat, flat);
  }

  /** Learning rate at (1-based) step k, with linear warmup. */
  learningRate(k: number): number {
    const w = this.options.warmupSteps;
    return w > 0 ? this.options.lr * Math.min(1, k / w) : this.options.lr;
  }

  /** Runs `n` steps (one submit each) and returns their losses. */
  async trainSteps(n: number): Promise<Float32Array> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_STEPS_PER_CALL) throw new Error(`trainer: steps per call must be in [1, ${MAX_STEPS_PER_CALL}], got ${n}`);
    const { batch: B, seed } = this.options;
    const T = this.abar.length;
    for (let i = 0; i < n; i++) {
      const k = ++this.step;
      const indices = Array.from(uniform(seed, INDEX_STREAM, k, B), (u) => Math.floor(u * this.data.count));
      const flips = Array.from(uniform(seed, FLIP_STREAM, k, B), (u) => this.options.randomFlip && u < 0.5);
      const t = Array.from(uniform(seed, TIMESTEP_STREAM, k, B), (u) => Math.floor(u * T));
      gatherBatch(this.data, indices, flips, this.batchImages);
      upload(this.device, this.train.x0, this.batchImages);
      this.train.setTimesteps(t, this.abar);
      setRngState(this.device, this.noiseState, seed, k);
      if (this.train.net.rngState) setRngState(this.device, this.train.net.rngState, seed, k);
      const encoder = this.device.createCommandEncoder({ label: `train step ${k}` });
      const pass = encoder.beginComputePass({ label: 'noise' });
      recordDispatches(pass, [this.noiseDraw]);
      pass.end();
      this.train.encode(encoder, k, this.learningRate(k));
      encoder.copyBufferToBuffer(this.train.loss.buffer, this.train.loss.offset, this.lossRing.buffer, this.lossRing.offset + i * 4, 4);
      this.device.queue.submit([encoder.finish()]);
    }
    return (await readTensor(this.device, this.lossRing)).slice(0, n);
  }

  /** Everything needed to continue exactly: weights, EMA, Adam moments, step, seed, configs. */
  async checkpoint(): Promise<{ tensors: Map<string, HostTensor>; metadata: Record<string, string> }> {
    const tensors = new Map<string, HostTensor>();
    const groups: [string, ParamStore][] = [['model', this.train.net.params], ['ema', this.train.ema], ['adam_m', this.train.m], ['adam_v', this.train.v]];
    for (const [prefix, store] of groups) {
      for (const [name, t] of await store.read()) tensors.set(`${prefix}/${name}`, t);
    }
    const metadata = {
      format: CHECKPOINT_FORMAT,
      model: JSON.stringify(this.config),
      diffusion: JSON.stringify(this.diffusion),
      trainer: JSON.stringify(this.options),
      step: String(this.step),
      dataset: this.data.id,
    };
    return { tensors, metadata };
  }

  /** Rebuilds a trainer from a checkpoint file; every tensor is validated before anything is written. */
  static fromCheckpoint(device: GPUDevice, file: SafetensorsFile, source: string, data: ImageDataset): Trainer {
    const md = file.metadata;
    if (md.format !== CHECKPOINT_FORMAT) throw new Error(`${source}: not a training checkpoint (__metadata__.format is ${JSON.stringify(md.format)})`);
    const step = Number(md.step);
    if (!Number.isInteger(step) || step < 0) throw new Error(`${source}: bad step ${JSON.stringify(md.step)} in __metadata__`);
    const options = metadataJson(md, 'trainer', source);
    if (options === undefined) throw new Error(`${source}: no trainer options in __metadata__ (expected a "trainer" entry)`);
    const trainer = new Trainer(device, configFromMetadata(md, source), diffusionFromMetadata(md, source), options as TrainerOptions, data);
    const t = trainer.train;
    const stores: [string, ParamStore][] = [['model/', t.net.params], ['ema/', t.ema], ['adam_m/', t.m], ['adam_v/', t.v]];
    const images = stores.map(([prefix, store]) => store.pack(file, source, prefix));
    stores.forEach(([, store], i) => upload(device, store.flat, images[i]!));
    trainer.step = step;
    return trainer;
  }
}
