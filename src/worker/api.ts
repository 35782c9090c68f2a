// The engine interface the UI codes against: implemented once, in the worker (engine.ts), reached
// through comlink. Pixels cross as RGBA8 bytes (N, S, S, 4), transferred, never as GPU buffers.
import type { ChainSettings } from '../app/sampling';
import type { StepCoefficients } from '../diffusion/samplers';
import type { UNetConfig } from '../nn/config';
import type { ModelEntry } from '../store/models';
import type { RunEntry } from '../store/runs';
import type { TrainerOptions } from '../train/trainer';
import type { SetStats, Stat } from '../eval/sets';
import type { SetBounds } from '../research/experiments';
import type { BudgetPoint } from '../research/budget';
import type { BudgetRunEntry, BudgetSpec } from '../store/research';
import type { ProgressReading } from '../app/progress';
import type { PrecisionRequest, Tier } from '../gpu/tier';

export type { ModelEntry, RunEntry, BudgetRunEntry, BudgetSpec, BudgetPoint, Stat, SetStats, SetBounds };

/** The engine's long jobs (one runs at a time), each with the words the page shows for it. */
export const JOBS = {
  sampling: 'sampling', interpolation: 'interpolation', denoising: 'denoising', inversion: 'inversion', training: 'training',
  oneShot: 'the one-shot experiment', firstStep: 'the first-step experiment', budget: 'the budget comparison',
  grid: 'the comparison grid', calibration: 'measuring this adapter\'s training speed',
} as const;
export type Job = keyof typeof JOBS;

/** What the running job has done, sent to the page as it goes (at most ~10 a second, and at its start and end). */
export interface JobEvent extends ProgressReading {
  job: Job;
  /** 'ended' once, when the job returns, fails or stops. */
  phase: 'running' | 'ended';
  /** What it is doing now, in words ("t = 500", "arm layer", "compiling kernels"). */
  detail?: string;
  /** The job works between units (`detail` says on what): the ETA does not run down meanwhile. */
  between?: boolean;
}

/** A job that Stop ended before it had a result to give (the page says "stopped", not an error). */
export const STOPPED = 'JobStopped';

/** What happened to the GPU, for the page to say: a device loss (the engine reconnects on its own),
 *  the reconnection, or an error no operation caught (validation, out of memory). */
export interface GpuEvent {
  kind: 'lost' | 'restored' | 'error';
  message: string;
}

export interface EngineInfo {
  adapter: string;
  /** The precision tier the engine runs in (gpu/tier.ts). */
  tier: Tier;
  /** Why the tier differs from the one the page asked for (the adapter lacks a feature), if it does. */
  tierNote?: string;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** RGBA8 images: `count` images of `size` x `size`, (count, size, size, 4). */
export interface Pixels {
  count: number;
  size: number;
  rgba: Uint8Array;
}

/** A chain of the Sample tab: the settings `app/sampling.ts` checks, for a stored model. */
export interface SampleSettings extends ChainSettings {
  modelId: string;
  /** Send x_t and x0 pixels with the progress (at most once per animation frame); off: progress only. */
  previews: boolean;
}

/** One step of a running chain: x_t after the step and the x0 predicted at it. */
export interface StepFrame {
  /** Steps done (1..total). */
  step: number;
  total: number;
  /** The timestep the model saw at this step. */
  t: number;
  msPerStep: number;
  /** Present when previews are on. */
  xt?: Pixels;
  x0?: Pixels;
}

export interface SampleResult {
  /** false when Stop ended the chain early. */
  completed: boolean;
  stepsDone: number;
  /** Steps of the whole chain. */
  steps: number;
  /** Timesteps of the chain, noisiest first. */
  seq: number[];
  msPerStep: number;
  final: Pixels;
}

/** x_t before every step and the final sample (steps+1 images), and the x0 of every step, for one sample. */
export interface Filmstrip {
  /** The chain's timesteps, ascending. */
  seq: number[];
  /** Its steps, noisiest first, with the sampler's own coefficients: step k runs at coefficients[k].t. */
  coefficients: StepCoefficients[];
  xs: Pixels;
  x0s: Pixels;
}

/** The first-step question for every sample of the last chain: x0 at the first step vs the result. */
export interface FirstStepReport {
  firstX0: Pixels;
  final: Pixels;
  /** |first x0 - final| per pixel, scaled to fill 0..255. */
  difference: Pixels;
  /** Per sample: MSE (images in [-1, 1]) and PSNR (dB, peak-to-peak 2) of first x0 against the final sample. */
  mse: number[];
  psnr: number[];
  /** The first step's update x0 = k0 x_T - k1 eps at its t: every error in eps reaches x0 times k1. */
  t: number;
  k0: number;
  k1: number;
  /** The same x_T through the ideal denoiser of the model's data set (absent where there is none: other sizes, or the ideal itself). */
  ideal?: FirstStepIdeal;
}

/** What the ideal denoiser (the exact posterior mean of the training images) says at the first step, for the same x_T. */
export interface FirstStepIdeal {
  /** Its name ("the ideal denoiser of the 16 px emoji"). */
  name: string;
  /** The posterior mean E[x0 | x_T]. */
  x0: Pixels;
  /** Per sample: RMS of the model's eps minus the ideal's, per value (eps itself has RMS about 1). */
  epsRms: number[];
  /** Per sample: RMS of the model's first x0 minus the ideal's (k1 x epsRms). */
  x0Rms: number[];
  /** MSE of the ideal first x0 from the training images' mean image (0: it is the blurry average). */
  meanMse: number[];
}

export interface DenoiseRequest {
  modelId: string;
  /** A bundled held-out image (index into the eval split of the model's size) or the user's own (RGB bytes at the model size). */
  image: { kind: 'dataset'; index: number } | { kind: 'rgb'; rgb: Uint8Array };
  t: number;
  /** DDIM (eta 0) steps of the chain from t down to 0. */
  steps: number;
  seed: number;
}

export interface DenoiseResult {
  clean: Pixels;
  xt: Pixels;
  oneShot: Pixels;
  chain: Pixels;
  oneShotMse: number;
  oneShotPsnr: number;
  chainMse: number;
  chainPsnr: number;
  /** The timesteps the chain from t ran, noisiest first (its steps: the requested count where t allows,
   *  a layered model's own chain from t). */
  chainTimesteps: number[];
  /** One-shot x0 MSE for this image at t = 0, 50, ..., T-1 (same noise). */
  curve: { t: number; mse: number }[];
}

/** DDIM inversion of one image (the Denoise tab): up the deterministic chain to x_T and back. */
export interface InversionRequest {
  modelId: string;
  image: DenoiseRequest['image'];
  /** Steps of the inversion and of the reconstruction (the reference's uniform skip). */
  steps: number;
  /** The re-sampling from the same x_T: its steps, eta and noise seed. */
  resampleSteps: number;
  resampleEta: number;
  seed: number;
}

export interface InversionResult {
  clean: Pixels;
  /** The inverted x_T, shown clipped to the display range. */
  xT: Pixels;
  /** DDIM (eta 0) back down the same timesteps. */
  reconstruction: Pixels;
  resampled: Pixels;
  /** The timesteps of the inversion, ascending. */
  seq: number[];
  /** PSNR (dB, peak-to-peak 2) against the clean image. */
  reconstructionPsnr: number;
  resampledPsnr: number;
  /** The steps the re-sampling ran (the reference's skip rule can run more than asked). */
  resampledSteps: number;
}

export interface TrainSpec {
  name: string;
  dataset: 'emoji16' | 'emoji32' | 'user';
  config: UNetConfig;
  options: TrainerOptions;
  steps: number;
  /** Save a checkpoint every this many steps (and on pause). */
  checkpointEvery: number;
  /** Sample previews from the EMA weights every this many steps (0: never). */
  previewEvery: number;
}

export interface TrainProgress {
  runId: string;
  step: number;
  targetSteps: number;
  /** Losses of the steps since the last report. */
  losses: number[];
  imagesPerSecond: number;
  state: 'running' | 'paused' | 'stopped' | 'done' | 'error' | 'interrupted';
  /** Step of the last saved checkpoint. */
  savedStep: number;
  /** What the Train tab should know about this session of the run (its data changed since it started). */
  message?: string;
  preview?: Pixels;
  /** Steps of the run the dynamic loss scale skipped (reduced tiers; absent or 0 in fp32). */
  lossScaleSkips?: number;
}

export interface MemoryEstimate {
  parameters: number;
  /** Bytes on the GPU for training at this batch: weights, gradients, Adam, EMA, activations. */
  trainBytes: number;
  fits: boolean;
  /** Why it does not fit (names the limit). */
  problem?: string;
}

export interface StoredImageInfo {
  id: string;
  name: string;
  thumbnail: Pixels;
}

/** A model the Research tab can compare: time-conditioned (the library) or layered (bundled). */
export interface ResearchModelInfo {
  id: string;
  name: string;
  kind: 'time' | 'layered' | 'ideal';
  parameters: number;
  resolution: number;
  /** Layered: its own num_block (time-conditioned models take the request's). */
  numBlock?: number;
}

export interface ResearchRequest {
  modelIds: string[];
  /** Held-out images (one-shot) or samples (first step). */
  n: number;
  /** The first seed; with `seeds` > 1 the experiment runs on seeds seed .. seed + seeds - 1 and reports their mean and spread. */
  seed: number;
  seeds: number;
  /** Steps of the chain for time-conditioned models: seq = range(0, T, T // numBlock). */
  numBlock: number;
}

export interface OneShotPoint {
  t: number;
  /** Chain steps from t to 0. */
  steps: number;
  /** MSE per value against the clean image, one-shot x0 and the chain's end. */
  oneShot: Stat;
  chain: Stat;
  oneShotSet: SetStats;
  chainSet: SetStats;
}

export interface OneShotCurve {
  modelId: string;
  name: string;
  kind: 'time' | 'layered' | 'ideal';
  parameters: number;
  rows: OneShotPoint[];
}

export interface OneShotStudy {
  seeds: number;
  bounds: SetBounds;
  curves: OneShotCurve[];
}

export interface FirstStepStudyResult {
  n: number;
  seeds: number;
  bounds: SetBounds;
  models: {
    modelId: string;
    name: string;
    kind: 'time' | 'layered' | 'ideal';
    parameters: number;
    first: SetStats;
    last: SetStats;
    mseFirstFinal: Stat;
    /** The first 8 of each set (the first seed). */
    firstX0: Pixels;
    final: Pixels;
  }[];
}

/** The engine itself: start-up, device-loss recovery, the stop of whatever job runs, storage. */
export interface EngineCore {
  /**
   * Starts the engine; `onGpuEvent` (a comlink proxy) hears of device losses and uncaught GPU errors,
   * `onJob` of the progress of every long job. `precision` (default auto) is the tier the device is
   * acquired in; one the adapter cannot run falls back to auto, and the info says why.
   */
  init(onGpuEvent?: (e: GpuEvent) => void, onJob?: (e: JobEvent) => void, precision?: PrecisionRequest): Promise<EngineInfo>;
  /** Destroys the GPU device as a driver reset would, to see the app recover (the e2e test does). */
  loseDevice(): Promise<void>;
  /** Stops `job` after its current step if it is the one running (false when it is not). */
  stop(job: Job): Promise<boolean>;
  storage(): Promise<{ usage: number; quota: number; persisted: boolean }>;
}

/** The model library (the Models tab). */
export interface ModelsApi {
  listModels(): Promise<ModelEntry[]>;
  /** Imports a safetensors file (reference or diffusers layout; optional config.json text) into the library. */
  importModel(name: string, bytes: ArrayBuffer, configJson?: string): Promise<ModelEntry>;
  renameModel(id: string, name: string): Promise<ModelEntry>;
  deleteModel(id: string): Promise<void>;
  /** The model as a reference-layout safetensors file (F32), loadable by PyTorch with strict=True. */
  exportModel(id: string): Promise<ArrayBuffer>;
}

/** Sampling and the image-by-image experiments (the Sample and Denoise tabs). */
export interface SamplingApi {
  /** Starts a chain and runs it to the end, or `maxSteps` steps of it (Step: 1); it waits for continueSample. */
  sample(settings: SampleSettings, onFrame: (f: StepFrame) => void, maxSteps?: number): Promise<SampleResult>;
  /** Runs the last chain on from where Step or Stop left it, to the end or `maxSteps` steps. */
  continueSample(onFrame: (f: StepFrame) => void, maxSteps?: number): Promise<SampleResult>;
  /**
   * The comparison grid: one chain per cell (each planned and checked before the first runs), every
   * finished cell's result to `onCell` as it lands; Stop ends it after the step that runs. Its chains
   * are its own: the Sample tab's chain (Continue, filmstrip, first step) stays as it was.
   */
  sampleGrid(cells: SampleSettings[], onCell: (index: number, result: SampleResult) => void): Promise<void>;
  filmstrip(sample: number): Promise<Filmstrip>;
  firstStep(): Promise<FirstStepReport>;
  interpolate(settings: SampleSettings, seedB: number, frames: number): Promise<Pixels>;
  denoise(request: DenoiseRequest): Promise<DenoiseResult>;
  invert(request: InversionRequest): Promise<InversionResult>;
  /** `count` held-out emoji at `size`, spread over the whole held-out set (for the Denoise picker), with their indices. */
  datasetImages(size: number, count: number): Promise<{ pixels: Pixels; indices: number[] }>;
}

/** Training runs (the Train tab). */
export interface TrainingApi {
  estimateMemory(config: UNetConfig, batch: number): Promise<MemoryEstimate>;
  listRuns(): Promise<RunEntry[]>;
  deleteRun(id: string): Promise<void>;
  train(spec: TrainSpec, onProgress: (p: TrainProgress) => void): Promise<RunEntry>;
  resumeRun(id: string, onProgress: (p: TrainProgress) => void): Promise<RunEntry>;
  /** Pauses the running training after its current chunk and saves a checkpoint. */
  pause(): Promise<void>;
  /** Saves the EMA weights of a run's last checkpoint as a library model. */
  runToModel(id: string): Promise<ModelEntry>;
}

/** The user's training images (the Train tab's dataset). */
export interface ImagesApi {
  /** `errors`: the files skipped, with why; `notes`: what happened to files added (a crop that kept little). */
  addImages(files: File[]): Promise<{ added: number; errors: string[]; notes: string[] }>;
  listImages(): Promise<StoredImageInfo[]>;
  removeImage(id: string): Promise<void>;
  removeAllImages(): Promise<void>;
}

/** The seed question's experiments (the Research tab). */
export interface ResearchApi {
  researchModels(): Promise<ResearchModelInfo[]>;
  /** Experiment 1: one-shot x0 vs the chain from x_t, per t, on held-out emoji. */
  researchOneShot(request: ResearchRequest): Promise<OneShotStudy>;
  /** Experiment 2: first-step x0 vs the final sample from the same noise, with FD. */
  researchFirstStep(request: ResearchRequest): Promise<FirstStepStudyResult>;
  /**
   * Experiment 3's cost on this adapter before it runs: each chosen arm of `spec` built and trained for
   * two steps (the first compiles), the second timed, in image-gradient evaluations per second.
   */
  researchBudgetRates(spec: BudgetSpec): Promise<{ arm: BudgetSpec['arms'][number]; evalsPerSecond: number }[]>;
  /** Experiment 3: trains the arms for the same evaluation budget; `onUpdate` sees the stored run after every point. */
  researchBudget(spec: BudgetSpec, onUpdate: (run: BudgetRunEntry) => void): Promise<BudgetRunEntry>;
  listBudgetRuns(): Promise<BudgetRunEntry[]>;
  deleteBudgetRun(id: string): Promise<void>;
  /** A run's points as CSV (arm, parameters, step, evals, train_seconds, loss, fd). */
  budgetCsv(id: string): Promise<string>;
}

/** Everything the page reaches through comlink: one worker, one long job at a time (JOBS). */
export interface EngineApi extends EngineCore, ModelsApi, SamplingApi, TrainingApi, ImagesApi, ResearchApi {}
