// Sampling in the worker: a chain on the GPU whose x_t and predicted x0 are turned into pixels on
// the GPU after every step (a PixelFilm). The page gets at most one frame per animation frame
// (~16 ms), each a readback of a few KB; the whole film stays on the GPU for the filmstrip and the
// first-step question.
import { psnr as psnrOf } from '../diffusion/forward';
import { checkRun } from '../app/sampling';
import { modelChain, type ModelFile } from '../app/model-files';
import { PixelFilm } from '../engine/film';
import { Sampler } from '../engine/sampler';
import type { StepModel } from '../engine/step-model';
import type { IdealStepModel } from '../engine/ideal';
import { GpuOwner } from '../gpu/owner';
import { createTensor, readTensors, upload, type Tensor } from '../gpu/tensor';
import { submitDispatches } from '../gpu/kernel';
import type { StepCoefficients } from '../diffusion/samplers';
import type { Filmstrip, FirstStepIdeal, FirstStepReport, Pixels, SampleResult, SampleSettings, StepFrame } from './api';
import { toPixels } from './pixels';
import type { JobContext } from './engine-core';

const FRAME_MS = 16;

/** A model on the GPU, its weights loaded, at one batch size: reused while neither changes. */
export class NetCache {
  private key = '';
  private net: StepModel | undefined;

  constructor(private readonly device: GPUDevice) {}

  get(id: string, model: ModelFile, batch: number): StepModel {
    const key = `${id}/${batch}`;
    if (this.net && this.key === key) return this.net;
    // The plan it replaces is freed first: its buffers would otherwise live as long as the device.
    this.net?.destroy();
    this.net = undefined;
    this.net = model.plan(this.device, batch);
    this.key = key;
    return this.net;
  }
}

export class SampleRun {
  readonly seq: number[];
  /** The chain's steps, noisiest first: step k runs the model at coefficients[k].t. */
  readonly coefficients: StepCoefficients[];
  private readonly sampler: Sampler;
  private readonly film: PixelFilm;
  private readonly steps: number;
  private readonly size: number;
  private stepsDone = 0;
  private elapsedMs = 0;
  /** x_T and the eps of the first step, kept for the first-step question. */
  private readonly owner = new GpuOwner('sample run');
  private readonly xT0!: Tensor;
  private readonly eps0!: Tensor;

  /**
   * x_T is the seeded RNG's draw unless given (interpolation frames). A model that fixes its chain (a
   * layered one) runs its own, whatever the settings' steps, skip and eta say (the page greys them out).
   */
  constructor(private readonly device: GPUDevice, readonly net: StepModel, readonly model: ModelFile, readonly settings: SampleSettings, private readonly xT?: Float32Array) {
    checkRun(settings);
    const { seq, coefficients } = modelChain(model, settings);
    this.seq = seq;
    this.coefficients = coefficients;
    this.sampler = new Sampler(device, net, coefficients, { kind: 'rng', seed: settings.seed }, false);
    this.steps = coefficients.length;
    this.size = model.resolution;
    // Frames 0..steps: x_T and x_t after each step; frames steps+1..2 steps: the x0 of each step.
    this.film = new PixelFilm(device, 2 * this.steps + 1, settings.batch, this.size, 'sample.film');
    const scope = this.owner.open();
    try {
      this.xT0 = createTensor(device, net.x.shape, 'sample.x_T');
      this.eps0 = createTensor(device, net.x.shape, 'sample.first_eps');
      scope.keep();
    } finally {
      scope.close();
    }
  }

  private pixels(rgba: Uint8Array, count = this.settings.batch): Pixels {
    return { count, size: this.size, rgba };
  }

  /** Steps done so far (a chain advanced step by step stays between calls). */
  get done(): number {
    return this.stepsDone;
  }

  /**
   * Runs the chain on from where it stands, at most `maxSteps` steps (all by default: Step runs one,
   * Continue the rest); `onFrame` gets x_t and x0 at most once per animation frame and at the last step.
   * The job hears of every step this call runs (after `offset` steps of other chains, for the grid),
   * and its Stop ends the chain after the step that runs.
   */
  async advance(onFrame: (f: StepFrame) => void, job: Pick<JobContext, 'progress' | 'stopped'>, maxSteps = Infinity, offset = 0): Promise<SampleResult> {
    if (!(maxSteps >= 1)) throw new Error(`a chain advances by at least one step, got ${maxSteps}`);
    // Every call runs at least one step, so a chain with none done has not started.
    if (this.stepsDone === 0) {
      this.sampler.start(this.xT, (encoder) => {
        this.film.encode(encoder, this.net.x, 0);
        encoder.copyBufferToBuffer(this.net.x.buffer, this.net.x.offset, this.xT0.buffer, this.xT0.offset, this.net.x.shape.reduce((a, b) => a * b, 4));
      });
    }
    const first = this.stepsDone, end = Math.min(this.steps, first + maxSteps);
    const t0 = performance.now();
    let lastFrame = -Infinity;
    await this.sampler.advance(first, end, {
      record: (encoder, k) => {
        this.film.encode(encoder, this.net.x, k + 1);
        this.film.encode(encoder, this.sampler.x0, this.steps + 1 + k);
        if (k === 0) {
          const eps = this.net.at(this.coefficients[0]!.t).eps;
          encoder.copyBufferToBuffer(eps.buffer, eps.offset, this.eps0.buffer, this.eps0.offset, eps.shape.reduce((a, b) => a * b, 4));
        }
      },
      after: async (k) => {
        // Paces the loop (a queue fence, not a readback) so Stop and the progress are per step.
        await this.device.queue.onSubmittedWorkDone();
        this.stepsDone = k + 1;
        job.progress(offset + k + 1 - first, undefined, `t = ${this.coefficients[k]!.t}`);
        const now = performance.now();
        const last = k === end - 1 || job.stopped;
        if (now - lastFrame >= FRAME_MS || last) {
          lastFrame = now;
          const progress = { step: k + 1, total: this.steps, t: this.coefficients[k]!.t, msPerStep: (now - t0) / (k + 1 - first) };
          if (this.settings.previews) {
            const [xt, x0] = await Promise.all([this.film.read(k + 1, 1), this.film.read(this.steps + 1 + k, 1)]);
            onFrame({ ...progress, xt: this.pixels(xt), x0: this.pixels(x0) });
          } else {
            onFrame(progress);
          }
        }
        return !job.stopped;
      },
    });
    this.elapsedMs += performance.now() - t0;
    return {
      completed: this.stepsDone === this.steps,
      stepsDone: this.stepsDone,
      steps: this.steps,
      seq: this.seq,
      msPerStep: this.elapsedMs / Math.max(1, this.stepsDone),
      final: this.pixels(await this.film.read(this.stepsDone, 1)),
    };
  }

  /** x_t at every step and the x0 of every step, for sample `i`. */
  async filmstrip(i: number): Promise<Filmstrip> {
    if (!Number.isInteger(i) || i < 0 || i >= this.settings.batch) throw new Error(`sample ${i} is not in this batch of ${this.settings.batch}`);
    const per = this.size * this.size * 4;
    const all = await this.film.read(0, 2 * this.steps + 1);
    const pick = (first: number, n: number): Uint8Array => {
      const out = new Uint8Array(n * per);
      for (let f = 0; f < n; f++) out.set(all.subarray(((first + f) * this.settings.batch + i) * per, ((first + f) * this.settings.batch + i + 1) * per), f * per);
      return out;
    };
    return { seq: this.seq, coefficients: this.coefficients, xs: this.pixels(pick(0, this.stepsDone + 1), this.stepsDone + 1), x0s: this.pixels(pick(this.steps + 1, this.stepsDone), this.stepsDone) };
  }

  /**
   * The first-step question: the x0 predicted at the first (noisiest) step against the final sample,
   * the amplification of eps there, and (with `ideal`) the ideal denoiser's x0 and eps for the same
   * x_T: how far the model's eps is from the best any denoiser of the data can do, and what that
   * distance becomes in x0.
   */
  async firstStep(ideal?: { model: IdealStepModel; name: string; mean: Float32Array }): Promise<FirstStepReport> {
    if (this.stepsDone === 0) throw new Error('no step has run yet');
    const [first, final] = await Promise.all([this.film.read(this.steps + 1, 1), this.film.read(this.stepsDone, 1)]);
    const N = this.settings.batch, per = this.size * this.size;
    const diff = new Uint8Array(first.length);
    const mse: number[] = [], psnr: number[] = [];
    let maxDiff = 1;
    for (let i = 0; i < first.length; i++) if (i % 4 !== 3) maxDiff = Math.max(maxDiff, Math.abs(first[i]! - final[i]!));
    for (let n = 0; n < N; n++) {
      let se = 0;
      for (let p = n * per; p < (n + 1) * per; p++) {
        for (let c = 0; c < 3; c++) {
          const d = first[p * 4 + c]! - final[p * 4 + c]!;
          se += ((d / 255) * 2) ** 2; // bytes back to [-1, 1] units
          diff[p * 4 + c] = Math.round((Math.abs(d) / maxDiff) * 255);
        }
        diff[p * 4 + 3] = 255;
      }
      const m = se / (per * 3);
      mse.push(m);
      psnr.push(psnrOf(m));
    }
    const c = this.coefficients[0]!;
    const report: FirstStepReport = { firstX0: this.pixels(first), final: this.pixels(final), difference: this.pixels(diff), mse, psnr, t: c.t, k0: c.k0, k1: c.k1 };
    if (ideal) report.ideal = await this.compareIdeal(ideal);
    return report;
  }

  /** The ideal denoiser at the first step's t on the chain's own x_T, against the model's eps there. */
  private async compareIdeal(ideal: { model: IdealStepModel; name: string; mean: Float32Array }): Promise<FirstStepIdeal> {
    const c = this.coefficients[0]!, m = ideal.model, N = this.settings.batch;
    const [xT, eps] = await readTensors(this.device, [this.xT0, this.eps0]);
    upload(this.device, m.x, xT!);
    upload(this.device, m.t, new Float32Array(N).fill(c.t));
    submitDispatches(this.device, m.at().forward, 'first step, ideal');
    const [x0, epsIdeal] = await readTensors(this.device, [m.x0, m.eps]);
    const per = xT!.length / N;
    const rms = (a: Float32Array, b: Float32Array | ((i: number) => number), n: number): number => {
      let s = 0;
      for (let i = n * per; i < (n + 1) * per; i++) s += (a[i]! - (typeof b === 'function' ? b(i) : b[i]!)) ** 2;
      return Math.sqrt(s / per);
    };
    const epsRms = Array.from({ length: N }, (_, n) => rms(eps!, epsIdeal!, n));
    return {
      name: ideal.name, x0: toPixels(x0!, this.net.x.shape[1]!, this.size), epsRms, x0Rms: epsRms.map((e) => c.k1 * e),
      meanMse: Array.from({ length: N }, (_, n) => rms(x0!, (i) => ideal.mean[i % per]!, n) ** 2),
    };
  }

  destroy(): void {
    this.sampler.destroy();
    this.film.destroy();
    this.owner.destroy();
  }
}
