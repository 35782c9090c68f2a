// Sampling on the GPU, the one loop of every chain (ddim sample, eval and invert; the Sample tab's
// stepped chains with their film; the Denoise chain; training previews), on any step model: a
// time-conditioned UNet, a layered model's sub-models, the ideal denoiser (engine/step-model.ts). A
// chain of diffusion steps is given by their coefficients (a sampler's reverse chain from
// stepCoefficients, or DDIM inversion from inversionCoefficients); every step is one compute pass
// (the model's eps at the step's t, noise draw, update kernel) plus buffer copies, with no readback
// inside the loop. Step k (k = 0 the noisiest) yields x_t and the predicted x0; with `record`, both
// are kept for every step (the CLI's xs / x0_preds). Training through a layered chain is
// research/chain.ts (with gradients).
import { recordDispatches, type Dispatch } from '../gpu/kernel';
import { GpuOwner } from '../gpu/owner';
import { createTensor, numel, readTensor, upload, type Tensor } from '../gpu/tensor';
import { denoiseStep } from '../kernels/diffusion';
import { createRngState, gaussianFill, setRngState } from '../kernels/rng';
import type { StepCoefficients } from '../diffusion/samplers';
import type { StepModel } from './step-model';

/** Where the noise comes from: the seeded GPU RNG, or replayed exactly (noises [steps, N, C, H, W]). */
export type NoiseSource = { kind: 'rng'; seed: number } | { kind: 'replay'; noises: Float32Array };

/** What a caller adds to the sampling loop (Sampler.advance). */
export interface StepHooks {
  /** Adds commands to step k's encoder, after the step. */
  record?: (encoder: GPUCommandEncoder, k: number) => void;
  /** After step k's submit; false ends the loop there. */
  after?: (k: number) => void | boolean | Promise<void | boolean>;
}

/** RNG streams: x_T draws from stream 0, the noise of step k from stream k + 1. */
const XT_STREAM = 0;

export class Sampler {
  readonly steps: number;
  /** The predicted x0 of the latest step (N, C, H, W). */
  readonly x0: Tensor;
  /** With `record`: x_t before every step and the final sample (steps+1, N, C, H, W), and every x0 (steps, N, C, H, W). */
  readonly xs: Tensor | null;
  readonly x0s: Tensor | null;
  private readonly xNext: Tensor;
  private readonly noise: Tensor;
  private readonly noiseTable: Tensor | null;
  /** t of every step for a time-conditioned model (copied into its t before the step), else null. */
  private readonly tTable: Tensor | null;
  private readonly rng: Tensor;
  private readonly stepDispatches: Dispatch[][];
  private readonly xTDraw: Dispatch;
  private readonly imageBytes: number;

  /** Every buffer of the sampler (not the UNet's), freed by destroy(). */
  readonly owner: GpuOwner;

  constructor(
    private readonly device: GPUDevice,
    readonly model: StepModel,
    readonly coefficients: StepCoefficients[],
    noise: NoiseSource,
    record: boolean,
  ) {
    this.owner = new GpuOwner('sampler');
    const scope = this.owner.open();
    try {
      const shape = model.x.shape;
      const n = numel(shape);
      const N = shape[0]!;
      this.imageBytes = n * 4;
      this.steps = this.coefficients.length;
      this.x0 = createTensor(device, shape, 'sampler.x0');
      this.xNext = createTensor(device, shape, 'sampler.x_next');
      this.noise = createTensor(device, shape, 'sampler.noise');
      this.xs = record ? createTensor(device, [this.steps + 1, ...shape], 'sampler.xs') : null;
      this.x0s = record ? createTensor(device, [this.steps, ...shape], 'sampler.x0s') : null;
      // t for every step, copied into the model's t before its forward (a layered model has none: t picks its sub-model).
      this.tTable = model.t ? createTensor(device, [this.steps, N], 'sampler.t') : null;
      if (this.tTable) upload(device, this.tTable, Float32Array.from({ length: this.steps * N }, (_, i) => this.coefficients[Math.floor(i / N)]!.t));
      this.rng = createRngState(device, 'sampler.rng');
      if (noise.kind === 'rng') {
        setRngState(device, this.rng, noise.seed, 0);
        this.noiseTable = null;
      } else {
        if (noise.noises.length !== this.steps * n) {
          throw new Error(`sampler: replayed noises hold ${noise.noises.length} values, expected [${this.steps},${shape}] = ${this.steps * n}`);
        }
        this.noiseTable = createTensor(device, [this.steps, ...shape], 'sampler.noises');
        upload(device, this.noiseTable, noise.noises);
      }
      this.xTDraw = gaussianFill(device, { out: model.x, state: this.rng, stream: XT_STREAM, label: 'sampler.x_T' });
      this.stepDispatches = this.coefficients.map((coef, k) => {
        const draws = coef.c !== 0 && !this.noiseTable
          ? [gaussianFill(device, { out: this.noise, state: this.rng, stream: k + 1, label: `sampler.noise.${k}` })]
          : [];
        const { forward, eps } = model.at(coef.t);
        return [
          ...forward,
          ...draws,
          denoiseStep(device, { xt: model.x, eps, noise: this.noise, xNext: this.xNext, x0: this.x0, coef, label: `sampler.step.${k}` }),
        ];
      });
      scope.keep();
    } finally {
      scope.close();
    }
  }

  /** Frees the sampler's buffers (tables, noise, x0, recordings); the model stays its owner's. */
  destroy(): void {
    this.owner.destroy();
  }

  /** Starts from the given x_T (or clean image, for inversion), or from a draw of the seeded RNG when `xT` is absent. */
  private encodeStart(encoder: GPUCommandEncoder, xT?: Float32Array): void {
    if (xT) {
      upload(this.device, this.model.x, xT);
    } else {
      const pass = encoder.beginComputePass({ label: 'sampler x_T' });
      recordDispatches(pass, [this.xTDraw]);
      pass.end();
    }
    if (this.xs) encoder.copyBufferToBuffer(this.model.x.buffer, this.model.x.offset, this.xs.buffer, this.xs.offset, this.imageBytes);
  }

  /** Records step k: afterwards model.x holds x_{t_next} and x0 the prediction made at t. */
  private encodeStep(encoder: GPUCommandEncoder, k: number): void {
    const t = this.model.t;
    if (t && this.tTable) {
      const N = t.shape[0]!;
      encoder.copyBufferToBuffer(this.tTable.buffer, this.tTable.offset + k * N * 4, t.buffer, t.offset, N * 4);
    }
    if (this.noiseTable && this.coefficients[k]!.c !== 0) {
      encoder.copyBufferToBuffer(this.noiseTable.buffer, this.noiseTable.offset + k * this.imageBytes, this.noise.buffer, this.noise.offset, this.imageBytes);
    }
    const pass = encoder.beginComputePass({ label: `sampler step ${k}` });
    recordDispatches(pass, this.stepDispatches[k]!);
    pass.end();
    const x = this.model.x;
    encoder.copyBufferToBuffer(this.xNext.buffer, this.xNext.offset, x.buffer, x.offset, this.imageBytes);
    if (this.xs && this.x0s) {
      encoder.copyBufferToBuffer(x.buffer, x.offset, this.xs.buffer, this.xs.offset + (k + 1) * this.imageBytes, this.imageBytes);
      encoder.copyBufferToBuffer(this.x0.buffer, this.x0.offset, this.x0s.buffer, this.x0s.offset + k * this.imageBytes, this.imageBytes);
    }
  }

  /** Submits the start of the chain: x_T given or drawn; `record` adds commands to it (a preview film's first frame). */
  start(xT?: Float32Array, record?: (encoder: GPUCommandEncoder) => void): void {
    const encoder = this.device.createCommandEncoder({ label: 'sampler start' });
    this.encodeStart(encoder, xT);
    record?.(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  /**
   * The one sampling loop: steps k = from .. to - 1, one submit each. `hooks.record(encoder, k)` adds
   * to step k's commands (the filmstrip); `hooks.after(k)` runs after its submit and ends the loop
   * early by returning false (Stop).
   */
  async advance(from: number, to: number, hooks: StepHooks = {}): Promise<void> {
    for (let k = from; k < to; k++) {
      const encoder = this.device.createCommandEncoder({ label: `sampler step ${k}` });
      this.encodeStep(encoder, k);
      hooks.record?.(encoder, k);
      this.device.queue.submit([encoder.finish()]);
      if ((await hooks.after?.(k)) === false) return;
    }
  }

  /** Runs the whole chain; `onStep` after each submit (not awaited on the GPU; false ends the chain there). */
  async run(xT?: Float32Array, onStep?: StepHooks['after']): Promise<void> {
    this.start(xT);
    await this.advance(0, this.steps, { after: onStep });
    await this.device.queue.onSubmittedWorkDone();
  }
}

/**
 * Runs a whole chain on `model` from `start` (or the RNG's x_T) and returns where it ends; the sampler
 * is freed. `onStep(k)` runs after step k's submit (a job's progress and Stop; it may throw).
 */
export async function runChain(device: GPUDevice, model: StepModel, coefficients: StepCoefficients[], noise: NoiseSource, start?: Float32Array, onStep?: StepHooks['after']): Promise<Float32Array> {
  const sampler = new Sampler(device, model, coefficients, noise, false);
  try {
    await sampler.run(start, onStep);
    return await readTensor(device, model.x);
  } finally {
    sampler.destroy();
  }
}
