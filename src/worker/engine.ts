// The engine behind EngineApi, inside the worker: owns the GPUDevice and everything on it. One
// long job (a chain, an interpolation, a denoise or a training run) at a time; `stop` ends it after
// its current step.
import { transfer } from 'comlink';
import { slerpFrames } from '../diffusion/interpolate';
import { acquireDevice } from '../gpu/device';
import { gaussian } from '../host/rng';
import { STORED_SIZE, addImages, listImages, removeImage, downsampleRgb, type StoredImage } from '../store/images';
import { removeOrphanWeights } from '../store/models';
import * as runs from '../store/runs';
import { datasetFromRgb } from '../train/data';
import { decodeImageFile } from '../train/decode-browser';
import { loadEmoji } from '../train/emoji';
import { memoryProblem, trainingMemory } from '../train/memory';
import { JOBS, MAX_SAMPLE_BATCH, type DenoiseRequest, type EngineApi, type EngineInfo, type GpuEvent, type Job, type Pixels, type SampleResult } from './api';
import { denoise, invert } from './denoise';
import * as models from './models';
import { toPixels } from './pixels';
import { NetCache, SampleRun } from './sampling';
import { TrainSession, bundledEmoji } from './training';
import * as research from './research';
import * as researchStore from '../store/research';

/** Pixels cross to the page by transfer, not copy. */
function sendPixels<T extends object>(value: T, pixels: Pixels[]): T {
  return transfer(value, pixels.map((p) => p.rgba.buffer as ArrayBuffer));
}

interface DeviceState {
  device: GPUDevice;
  info: EngineInfo;
  /** UNets with a model's weights, per use, on this device. */
  nets: { sample: NetCache; one: NetCache; curve: NetCache };
}

export class Engine implements EngineApi {
  /** The live device and what is built on it; undefined after a loss until the next acquisition. */
  private state: DeviceState | undefined;
  private acquiring: Promise<DeviceState> | undefined;
  private onGpuEvent: ((e: GpuEvent) => void) | undefined;
  private cleaned: Promise<number[]> | undefined;
  private busy: Job | undefined;
  private stopRequested = false;
  private lastRun: SampleRun | undefined;
  private training: TrainSession | undefined;

  async init(onGpuEvent?: (e: GpuEvent) => void): Promise<EngineInfo> {
    if (onGpuEvent) this.onGpuEvent = onGpuEvent;
    // Once per worker: weights and checkpoints a crash left without an entry take space for nothing.
    this.cleaned ??= Promise.all([removeOrphanWeights(), runs.removeOrphanCheckpoints()]).catch(() => [0, 0]);
    return (await this.current()).info;
  }

  /** The live device state, (re)acquired when there is none: after a device loss the next job
   *  rebuilds what it needs on a new device. */
  private current(): Promise<DeviceState> {
    if (this.state) return Promise.resolve(this.state);
    this.acquiring ??= this.acquire().finally(() => (this.acquiring = undefined));
    return this.acquiring;
  }

  private async gpu(): Promise<GPUDevice> {
    return (await this.current()).device;
  }

  private async nets(): Promise<DeviceState['nets']> {
    return (await this.current()).nets;
  }

  private async acquire(): Promise<DeviceState> {
    const { device, adapterName } = await acquireDevice(navigator.gpu);
    // Validation and out-of-memory errors nobody scoped would otherwise be silent in a page.
    device.addEventListener('uncapturederror', (ev) => this.onGpuEvent?.({ kind: 'error', message: `GPU error: ${(ev as GPUUncapturedErrorEvent).error.message}` }));
    void device.lost.then((info) => this.deviceLost(device, info));
    const info = { adapter: adapterName, maxBufferSize: device.limits.maxBufferSize, maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize };
    this.state = { device, info, nets: { sample: new NetCache(device), one: new NetCache(device), curve: new NetCache(device) } };
    return this.state;
  }

  /** Forgets everything built on the lost device, tells the page, and reconnects. */
  private deviceLost(device: GPUDevice, lost: GPUDeviceLostInfo): void {
    if (this.state?.device !== device) return;
    this.state = undefined;
    this.lastRun = undefined;
    this.training?.stop();
    this.onGpuEvent?.({ kind: 'lost', message: `The GPU device was lost (${lost.reason || 'unknown'}${lost.message ? `: ${lost.message}` : ''}); a running job stopped.` });
    this.current().then(
      (s) => this.onGpuEvent?.({ kind: 'restored', message: `The engine reconnected to ${s.info.adapter}. An interrupted training run resumes from its last checkpoint (Resume).` }),
      (e: unknown) => this.onGpuEvent?.({ kind: 'lost', message: `The GPU device was lost and could not be reacquired: ${(e as Error).message}` }),
    );
  }

  async loseDevice(): Promise<void> {
    (await this.gpu()).destroy();
  }

  /** Runs one long job at a time; a second is refused with what is running. */
  private async exclusive<T>(what: Job, job: () => Promise<T>): Promise<T> {
    if (this.busy) throw new Error(`the engine is busy with ${JOBS[this.busy]}; stop it first`);
    this.busy = what;
    this.stopRequested = false;
    try {
      return await job();
    } finally {
      this.busy = undefined;
    }
  }

  listModels = () => models.listAll();
  importModel = (name: string, bytes: ArrayBuffer, configJson?: string) => models.importModel(name, bytes, configJson);
  renameModel = (id: string, name: string) => models.renameModel(id, name);
  deleteModel = (id: string) => models.deleteModel(id);

  async exportModel(id: string): Promise<ArrayBuffer> {
    const bytes = await models.exportModel(id);
    return transfer(bytes, [bytes]);
  }

  sample: EngineApi['sample'] = (settings, onFrame, maxSteps) => this.exclusive('sampling', async () => {
    const device = await this.gpu();
    const { model } = await models.getModel(settings.modelId);
    this.lastRun?.destroy();
    const run = new SampleRun(device, (await this.nets()).sample.get(settings.modelId, model, settings.batch), model, settings);
    this.lastRun = run;
    return this.advance(run, onFrame, maxSteps);
  });

  continueSample: EngineApi['continueSample'] = (onFrame, maxSteps) => this.exclusive('sampling', async () => {
    const run = this.lastRun;
    if (!run || run.done === run.seq.length) throw new Error('no chain is waiting to continue; press Sample or Step to start one');
    return this.advance(run, onFrame, maxSteps);
  });

  private async advance(run: SampleRun, onFrame: Parameters<EngineApi['sample']>[1], maxSteps = Infinity): Promise<SampleResult> {
    const result = await run.advance((f) => onFrame(f.xt && f.x0 ? sendPixels(f, [f.xt, f.x0]) : f), () => this.stopRequested, maxSteps);
    return sendPixels(result, [result.final]);
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    this.training?.stop();
  }

  async filmstrip(sample: number) {
    if (!this.lastRun) throw new Error('nothing has been sampled yet');
    const f = await this.lastRun.filmstrip(sample);
    return sendPixels(f, [f.xs, f.x0s]);
  }

  async firstStep() {
    if (!this.lastRun) throw new Error('nothing has been sampled yet');
    const r = await this.lastRun.firstStep();
    return sendPixels(r, [r.firstX0, r.final, r.difference]);
  }

  interpolate: EngineApi['interpolate'] = (settings, seedB, frames) => this.exclusive('interpolation', async () => {
    if (!Number.isInteger(frames) || frames < 2 || frames > MAX_SAMPLE_BATCH) throw new Error(`frames must be an integer in [2, ${MAX_SAMPLE_BATCH}], got ${frames}`);
    const { model } = await models.getModel(settings.modelId);
    const c = model.config;
    const n = c.in_channels * c.resolution * c.resolution;
    // x_T of each seed is the first image the seeded GPU RNG draws (its CPU twin here).
    const path = slerpFrames(gaussian(settings.seed, 0, 0, n), gaussian(seedB, 0, 0, n), frames);
    const xT = new Float32Array(frames * n);
    path.forEach((z, i) => xT.set(z, i * n));
    const s = { ...settings, batch: frames };
    const run = new SampleRun(await this.gpu(), (await this.nets()).sample.get(settings.modelId, model, frames), model, s, xT);
    const result = await run.advance(() => undefined, () => this.stopRequested);
    run.destroy();
    return sendPixels(result.final, [result.final]);
  });

  /** The clean image of a Denoise-tab request, in [-1, 1] at the model's size. */
  private async cleanImage(image: DenoiseRequest['image'], size: number): Promise<Float32Array> {
    if (image.kind === 'rgb') return datasetFromRgb('your image', size, image.rgb).images;
    const held = await this.heldOut(size);
    const per = 3 * size * size;
    if (!(image.index >= 0 && image.index < held.count)) throw new Error(`image ${image.index} is not among the ${held.count} held-out emoji`);
    return held.images.slice(image.index * per, (image.index + 1) * per);
  }

  denoise: EngineApi['denoise'] = (req) => this.exclusive('denoising', async () => {
    const { model } = await models.getModel(req.modelId);
    const clean = await this.cleanImage(req.image, model.config.resolution);
    const nets = await this.nets();
    const r = await denoise(await this.gpu(), { one: nets.one, curve: nets.curve }, req.modelId, model, clean, req.t, req.steps, req.seed);
    return sendPixels(r, [r.clean, r.xt, r.oneShot, r.chain]);
  });

  invert: EngineApi['invert'] = (req) => this.exclusive('inversion', async () => {
    const { model } = await models.getModel(req.modelId);
    const clean = await this.cleanImage(req.image, model.config.resolution);
    const r = await invert(await this.gpu(), (await this.nets()).one, req.modelId, model, clean, req);
    return sendPixels(r, [r.clean, r.xT, r.reconstruction, r.resampled]);
  });

  private heldOutCache = new Map<number, ReturnType<typeof loadEmoji>>();

  private heldOut(size: number): ReturnType<typeof loadEmoji> {
    let p = this.heldOutCache.get(size);
    if (!p) {
      p = bundledEmoji(size, 'eval');
      this.heldOutCache.set(size, p);
    }
    return p;
  }

  async datasetImages(size: number, count: number) {
    const held = await this.heldOut(size);
    const n = Math.min(count, held.count);
    const per = 3 * size * size;
    const indices = Array.from({ length: n }, (_, i) => Math.floor((i * held.count) / n));
    const images = new Float32Array(n * per);
    indices.forEach((idx, i) => images.set(held.images.subarray(idx * per, (idx + 1) * per), i * per));
    const pixels = toPixels(images, 3, size);
    return sendPixels({ pixels, indices }, [pixels]);
  }

  async estimateMemory(config: Parameters<EngineApi['estimateMemory']>[0], batch: number) {
    const device = await this.gpu();
    const m = trainingMemory(device, config, batch);
    const problem = memoryProblem(m, device.limits);
    return { parameters: m.parameters, trainBytes: m.totalBytes, fits: !problem, ...(problem ? { problem } : {}) };
  }

  listRuns = () => runs.listRuns();

  async deleteRun(id: string): Promise<void> {
    if (this.training?.entry.id === id) throw new Error('this run is training; stop it first');
    await runs.deleteRun(id);
  }

  train: EngineApi['train'] = (spec, onProgress) => this.exclusive('training', async () => {
    const device = await this.gpu();
    const memory = trainingMemory(device, spec.config, spec.options.batch);
    const problem = memoryProblem(memory, device.limits);
    if (problem) throw new Error(`this model cannot train at batch ${spec.options.batch} here: ${problem}`);
    this.training = await TrainSession.start(device, spec);
    return this.runTraining(onProgress);
  });

  resumeRun: EngineApi['resumeRun'] = (id, onProgress) => this.exclusive('training', async () => {
    this.training = await TrainSession.resume(await this.gpu(), id);
    return this.runTraining(onProgress);
  });

  private async runTraining(onProgress: Parameters<EngineApi['train']>[1]) {
    try {
      return await this.training!.loop((p) => onProgress(p.preview ? sendPixels(p, [p.preview]) : p));
    } finally {
      this.training?.destroy();
      this.training = undefined;
    }
  }

  async pause(): Promise<void> {
    if (!this.training) throw new Error('no training is running');
    this.training.pause();
  }

  async runToModel(id: string) {
    const run = await runs.getRun(id);
    if (!run) throw new Error(`training run ${id} is not stored`);
    return models.importModel(`${run.name} (step ${run.step})`, await runs.checkpointBytes(run), undefined, 'trained', run.step);
  }

  async addImages(files: File[]) {
    const errors: string[] = [];
    const stored: StoredImage[] = [];
    for (const f of files) {
      if (!/\.(png|jpe?g|webp)$/i.test(f.name) && !/^image\/(png|jpeg|webp)$/.test(f.type)) {
        errors.push(`${f.name}: not a PNG, JPEG or WebP file`);
        continue;
      }
      try {
        stored.push({ id: `img-${Date.now().toString(36)}-${stored.length}-${Math.random().toString(36).slice(2, 6)}`, name: f.name, rgb: await decodeImageFile(f, STORED_SIZE), added: Date.now() });
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    await addImages(stored);
    return { added: stored.length, errors };
  }

  async listImages() {
    const images = await listImages();
    const THUMB = 32;
    return images.map((img) => {
      const rgb = downsampleRgb(img.rgb, THUMB);
      const rgba = new Uint8Array(THUMB * THUMB * 4);
      for (let p = 0; p < THUMB * THUMB; p++) rgba.set([rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!, 255], p * 4);
      return { id: img.id, name: img.name, thumbnail: { count: 1, size: THUMB, rgba } };
    });
  }

  removeImage = (id: string) => removeImage(id);

  researchModels = () => research.researchModels();

  researchOneShot: EngineApi['researchOneShot'] = (r) => this.exclusive('oneShot', async () => research.oneShot(await this.gpu(), r));

  researchFirstStep: EngineApi['researchFirstStep'] = (r) => this.exclusive('firstStep', async () => {
    const out = await research.firstStep(await this.gpu(), r);
    return sendPixels(out, out.models.flatMap((m) => [m.firstX0, m.final]));
  });

  researchBudget: EngineApi['researchBudget'] = (spec, onUpdate) => this.exclusive('budget', async () => research.runBudget(await this.gpu(), spec, () => this.stopRequested, onUpdate));

  /** Stored runs; one left 'running' by a closed tab shows as stopped. */
  async listBudgetRuns() {
    const live = this.busy === 'budget';
    return (await researchStore.listBudgetRuns()).map((r) => (r.state === 'running' && !live ? { ...r, state: 'stopped' as const } : r));
  }

  async deleteBudgetRun(id: string): Promise<void> {
    if (this.busy === 'budget') {
      const run = await researchStore.getBudgetRun(id);
      if (run?.state === 'running') throw new Error('this run is training; stop it first');
    }
    await researchStore.deleteBudgetRun(id);
  }

  async budgetCsv(id: string): Promise<string> {
    const run = await researchStore.getBudgetRun(id);
    if (!run) throw new Error(`research run ${id} is not stored`);
    return research.budgetCsv(run);
  }

  async storage() {
    const persisted = (await navigator.storage?.persisted?.()) ?? false;
    const est = (await navigator.storage?.estimate?.()) ?? {};
    return { usage: est.usage ?? 0, quota: est.quota ?? 0, persisted };
  }
}
