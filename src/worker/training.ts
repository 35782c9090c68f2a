// Training in the worker: a Trainer over the bundled emoji or the user's images, run in chunks so
// Pause/Stop land between steps, with checkpoints in IndexedDB every N steps and on pause (the
// previous checkpoint survives until the new one is written), and EMA sample previews.
import { trainUntil } from '../train/loop';
import { DEFAULT_DIFFUSION } from '../diffusion/schedule';
import { ddimSpec, planChain } from '../app/sampling';
import { checkRunSteps, resumeTraining, startTraining } from '../app/training';
import { runChain } from '../engine/sampler';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors';
import { UNet } from '../nn/unet';
import { unetStepModel, type StepModel } from '../engine/step-model';
import * as runs from '../store/runs';
import type { RunEnding } from '../store/runs';
import { userDataset } from '../store/images';
import { valuesKey } from '../host/hash';
import type { ImageDataset } from '../train/data';
import { bundledEmojiSize } from '../train/emoji';
import { checkTrainerOptions, type Trainer } from '../train/trainer';
import type { Pixels, RunEntry, TrainProgress, TrainSpec } from './api';
import type { JobContext } from './engine-core';
import { bundledEmoji } from './models';
import { toPixels } from './pixels';

const PREVIEW_SAMPLES = 4;
const PREVIEW_STEPS = 10;

export async function loadDataset(id: string, size: number): Promise<ImageDataset> {
  if (id === 'user') return userDataset(size);
  const bundled = bundledEmojiSize(id);
  if (!bundled) throw new Error(`unknown dataset "${id}"`);
  if (bundled !== size) throw new Error(`${id} holds ${bundled} px images; this model is ${size} px`);
  return bundledEmoji(size, 'train');
}

export function checkSpec(spec: TrainSpec): void {
  checkTrainerOptions(spec.options, 'training options');
  checkRunSteps(spec.steps);
  checkRunSteps(spec.checkpointEvery, 'checkpoint interval');
}

export class TrainSession {
  private pauseRequested = false;
  private stopRequested = false;
  private previewNet: StepModel | undefined;

  private constructor(private readonly device: GPUDevice, private run: RunEntry, private readonly trainer: Trainer, private readonly notice?: string) {}

  private get checkpointEvery(): number {
    return this.run.checkpointEvery;
  }

  private get previewEvery(): number {
    return this.run.previewEvery;
  }

  static async start(device: GPUDevice, spec: TrainSpec): Promise<TrainSession> {
    checkSpec(spec);
    const data = await loadDataset(spec.dataset, spec.config.resolution);
    const { trainer } = startTraining(device, { config: spec.config, diffusion: DEFAULT_DIFFUSION, options: spec.options, data });
    const run: RunEntry = {
      id: `r-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, name: spec.name || 'run', config: spec.config, options: spec.options,
      dataset: spec.dataset, ...(spec.dataset === 'user' ? { data: { count: data.count, key: valuesKey(data.images) } } : {}), step: 0, targetSteps: spec.steps, checkpointEvery: spec.checkpointEvery, previewEvery: spec.previewEvery,
      losses: [], updated: Date.now(),
    };
    await runs.putRun(run);
    return new TrainSession(device, run, trainer);
  }

  static async resume(device: GPUDevice, id: string): Promise<TrainSession> {
    const run = await runs.getRun(id);
    if (!run) throw new Error(`training run ${id} is not stored`);
    const bytes = await runs.checkpointBytes(run);
    const data = await loadDataset(run.dataset, run.config.resolution);
    const source = `checkpoint of "${run.name}"`;
    const { trainer } = resumeTraining(device, parseSafetensors(new Uint8Array(bytes), source), source, data);
    // The user's images may have changed since the run started: it goes on with those stored now, and says so.
    const was = run.data;
    const changed = was && was.key !== valuesKey(data.images)
      ? `your images changed since this run started: it continues on the ${data.count} stored now (it started on ${was.count}${was.count === data.count ? ', not all the same' : ''})` : undefined;
    // The chart resumes with the losses up to the checkpoint (steps after it are trained again).
    return new TrainSession(device, { ...run, losses: run.losses.slice(0, trainer.step) }, trainer, changed);
  }

  get entry(): RunEntry {
    return this.run;
  }

  pause(): void {
    this.pauseRequested = true;
  }

  stop(): void {
    this.stopRequested = true;
  }

  /** The run's entry ending as `how` at the trainer's step (undefined: done, or under way in memory). */
  private ending(how?: RunEnding): RunEntry {
    const { ended: _previous, ...run } = this.run;
    return how ? { ...run, ended: { how, step: this.trainer.step } } : run;
  }

  /** Saves a checkpoint at the trainer's step; the entry ends as `how` (a session's own checkpoints:
   *  'interrupted', what a reload reads if the page goes away before the session ends). */
  private async save(how: RunEnding | undefined): Promise<void> {
    const ckpt = await this.trainer.checkpoint();
    const bytes = serializeSafetensors(ckpt.tensors, ckpt.metadata);
    this.run = await runs.saveCheckpoint({ ...this.ending(how), step: this.trainer.step }, bytes.buffer as ArrayBuffer);
  }

  /** Frees the run's GPU buffers: the training step (weights, gradients, Adam, EMA, activations) and the preview net. */
  destroy(): void {
    this.trainer.destroy();
    this.previewNet?.destroy();
    this.previewNet = undefined;
  }

  /** EMA samples (PREVIEW_SAMPLES images, PREVIEW_STEPS DDIM steps, seed 0), on a plan that reads the trainer's EMA weights. */
  private async preview(): Promise<Pixels> {
    const cfg = this.trainer.config;
    this.previewNet ??= unetStepModel(new UNet(this.device, cfg, { batch: PREVIEW_SAMPLES, params: this.trainer.train.ema, label: 'preview' }));
    const { coefficients } = planChain(this.trainer.diffusion, { ...ddimSpec(PREVIEW_STEPS), clipX0: true });
    const x = await runChain(this.device, this.previewNet, coefficients, { kind: 'rng', seed: 0 });
    return toPixels(x, cfg.in_channels, cfg.resolution);
  }

  /**
   * Trains to the target step, or until paused/stopped; reports after every chunk, to the page's
   * Train tab (`onProgress`) and to the job (steps of this session, with the rate and ETA).
   */
  async loop(onProgress: (p: TrainProgress) => void, job: JobContext): Promise<RunEntry> {
    const report = (state: TrainProgress['state'], losses: number[], imagesPerSecond: number, extra: Partial<TrainProgress> = {}): void =>
      onProgress({
        runId: this.run.id, step: this.trainer.step, targetSteps: this.run.targetSteps, losses, imagesPerSecond, state, savedStep: this.run.step,
        lossScaleSkips: this.trainer.skippedSteps, ...(this.notice ? { message: this.notice } : {}), ...extra,
      });
    const target = this.run.targetSteps;
    // The steps done, and what the job does between steps when that takes a while (saving, the
    // preview: said while it runs, and out of the steps' rate).
    const count = (): void => job.progress(this.trainer.step, target);
    const save = (how?: RunEnding): Promise<void> => job.between('saving a checkpoint', () => this.save(how));
    const preview = (): Promise<Pixels> => job.between('drawing the EMA preview', () => this.showPreview());
    // No rate until this session's first chunk is measured (a resumed run's stored rate is another session's).
    report('running', [], 0);
    count();
    let ips = this.run.imagesPerSecond ?? 0;
    // Chunks end on checkpoint steps and last about half a second (one step where a step takes longer),
    // so Pause and Stop land within a step's time on a slow adapter and a fast GPU still batches readbacks.
    const every = this.checkpointEvery;
    // `ended` records how a session that did not reach the target ended, and at which step (a Stop
    // keeps the last checkpoint, not the steps after it); until it ends, 'interrupted' (what a reload
    // finds if the page goes away), and 'error' whatever fails, the last save and preview included.
    const store = (how?: RunEnding): Promise<void> => runs.putRun({ ...this.ending(how), losses: this.run.losses.slice(0, this.run.step), updated: Date.now() });
    try {
      await store('interrupted');
      await trainUntil(this.trainer, target, { most: (step) => every - (step % every), seconds: 0.5 }, async ({ losses, steps, seconds }) => {
        ips = (steps * this.trainer.options.batch) / seconds;
        this.run = { ...this.run, losses: [...this.run.losses, ...losses], imagesPerSecond: ips };
        count();
        // The Train tab hears of the steps before the preview and checkpoint that follow them; a
        // preview is drawn first, so the checkpoint's entry keeps it for a reload.
        report('running', Array.from(losses), ips);
        if (this.previewEvery > 0 && this.trainer.step % this.previewEvery === 0) report('running', [], ips, { preview: await preview() });
        if (this.trainer.step % every === 0) {
          await save('interrupted');
          report('running', [], ips);
        }
      }, () => this.pauseRequested || this.stopRequested);
      const state = this.stopRequested ? 'stopped' : this.pauseRequested ? 'paused' : 'done';
      const how = state === 'done' ? undefined : state;
      if (this.run.step !== this.trainer.step && !this.stopRequested) await save(how);
      else await store(how);
      this.run = this.ending(how);
      // A finished run's last preview (with previews on, unless its last step drew one), stored with it.
      const last = state === 'done' && this.previewEvery > 0 && this.run.previewStep !== this.trainer.step ? await preview() : undefined;
      if (last) await store();
      report(state, [], ips, last ? { preview: last } : {});
      return this.run;
    } catch (e) {
      // The training error is the one to report; the entry is kept as the last save left it, marked.
      await store('error').catch(() => undefined);
      throw e;
    }
  }

  /** A preview, kept with the run's entry (stored at the next save) so a reload shows the last one. */
  private async showPreview(): Promise<Pixels> {
    const preview = await this.preview();
    this.run = { ...this.run, preview: { ...preview, rgba: preview.rgba.slice() }, previewStep: this.trainer.step };
    return preview;
  }
}
