// The Sample and Denoise tabs' side of the engine (SamplingApi) over the shared WorkerCore: chains
// kept for Step/Continue, the filmstrip and the first-step question, interpolation, the Denoise
// chain, inversion and the held-out images.
import { checkGridCells, checkRun, interpolationStart } from '../app/sampling';
import { modelChain } from '../app/model-files';
import { datasetFromRgb } from '../train/data';
import type { DenoiseRequest, SampleResult, SamplingApi, StepFrame } from './api';
import { sendPixels, type JobContext, type WorkerCore } from './engine-core';
import { denoise, invert } from './denoise';
import * as models from './models';
import { bundledEmoji } from './models';
import { userDataset } from '../store/images';
import { valuesKey } from '../host/hash';
import { countOf } from '../app/progress';
import { toPixels } from './pixels';
import { NetCache, SampleRun } from './sampling';
import { IdealStepModel } from '../engine/ideal';
import { alphaBars, betaSchedule } from '../diffusion/schedule';


/** UNets with a model's weights, per use, on one device. */
interface Nets {
  device: GPUDevice;
  /** The Sample tab's chain. */
  sample: NetCache;
  /** The comparison grid's and the interpolation's chains (other batches: they would evict the Sample tab's net). */
  grid: NetCache;
  one: NetCache;
  curve: NetCache;
}

export function samplingApi(core: WorkerCore): SamplingApi {
  let nets: Nets | undefined;
  let lastRun: SampleRun | undefined;
  // A lost device takes its nets and the kept chain with it (a new device gets new nets).
  core.onDeviceLost(() => {
    nets = undefined;
    lastRun = undefined;
  });

  /** The ideal denoiser of the model's training data at the run's size, on its model's schedule: the
   *  user's stored images for a model trained on them, else the bundled emoji (none for other sizes,
   *  for the ideal itself, or when the user's images are gone). */
  let ideal: { key: string; model: IdealStepModel; mean: Float32Array } | undefined;
  core.onDeviceLost(() => (ideal = undefined));
  const idealFor = async (run: SampleRun): Promise<{ model: IdealStepModel; name: string; mean: Float32Array } | undefined> => {
    const m = run.model, size = m.resolution;
    if (m.kind === 'ideal') return undefined;
    const { entry } = await models.getModel(run.settings.modelId);
    const yours = entry.dataset === 'user';
    if (!yours && size !== 16 && size !== 32) return undefined;
    const data = yours ? await userDataset(size).catch(() => undefined) : await bundledEmoji(size, 'train');
    if (!data) return undefined;
    const name = yours
      ? `the ideal denoiser of your ${countOf(data.count, 'image')} as stored now`
      : `the ideal denoiser of the ${size} px emoji's ${data.count.toLocaleString('en-US')} training images`;
    const key = `${name}/${size}/${run.settings.batch}/${JSON.stringify(m.diffusion)}/${yours ? valuesKey(data.images) : ''}`;
    if (ideal?.key !== key) {
      ideal?.model.destroy();
      const per = data.channels * size * size;
      const mean = new Float32Array(per);
      for (let i = 0; i < data.count; i++) for (let d = 0; d < per; d++) mean[d]! += data.images[i * per + d]! / data.count;
      const abar = alphaBars(betaSchedule(m.diffusion));
      ideal = { key, model: new IdealStepModel(await core.gpu(), data.images, data.count, [data.channels, size, size], abar, run.settings.batch), mean };
    }
    return { model: ideal.model, name, mean: ideal.mean };
  };

  const netsOn = (device: GPUDevice): Nets => {
    if (nets?.device !== device) nets = { device, sample: new NetCache(device), grid: new NetCache(device), one: new NetCache(device), curve: new NetCache(device) };
    return nets;
  };

  const advance = async (run: SampleRun, onFrame: (f: StepFrame) => void, job: JobContext, maxSteps = Infinity): Promise<SampleResult> => {
    const result = await run.advance((f) => onFrame(f.xt && f.x0 ? sendPixels(f, [f.xt, f.x0]) : f), job, maxSteps);
    return sendPixels(result, [result.final]);
  };

  /** Steps a sampling job will run: the rest of the chain, or `maxSteps` of it. */
  const stepsOf = (chainSteps: number, done: number, maxSteps = Infinity): number => Math.min(chainSteps - done, maxSteps);

  const heldOut = (size: number): ReturnType<typeof bundledEmoji> => bundledEmoji(size, 'eval');

  /** The clean image of a Denoise-tab request, in [-1, 1] at the model's size. */
  const cleanImage = async (image: DenoiseRequest['image'], size: number): Promise<Float32Array> => {
    if (image.kind === 'rgb') return datasetFromRgb('your image', size, image.rgb).images;
    const held = await heldOut(size);
    const per = 3 * size * size;
    if (!(image.index >= 0 && image.index < held.count)) throw new Error(`image ${image.index} is not among the ${held.count} held-out emoji`);
    return held.images.slice(image.index * per, (image.index + 1) * per);
  };

  return {
    sample: (settings, onFrame, maxSteps) => core.exclusive('sampling', 'step', 1, async (job) => {
      const device = await core.gpu();
      const { model } = await models.getModel(settings.modelId);
      lastRun?.destroy();
      lastRun = undefined;
      const run = new SampleRun(device, netsOn(device).sample.get(settings.modelId, model, settings.batch), model, settings);
      lastRun = run;
      job.progress(0, stepsOf(run.seq.length, 0, maxSteps));
      return advance(run, onFrame, job, maxSteps);
    }),

    continueSample: (onFrame, maxSteps) => core.exclusive('sampling', 'step', 1, async (job) => {
      const run = lastRun;
      if (!run || run.done === run.seq.length) throw new Error('no chain is waiting to continue; press Sample or Step to start one');
      job.progress(0, stepsOf(run.seq.length, run.done, maxSteps));
      return advance(run, onFrame, job, maxSteps);
    }),

    sampleGrid: (cells, onCell) => core.exclusive('grid', 'step', 1, async (job) => {
      checkGridCells(cells.length);
      const device = await core.gpu();
      // Every cell's chain is planned (and checked) before the first runs, so the total is known.
      const planned = await Promise.all(cells.map(async (settings) => ({ settings, ...(await models.getModel(settings.modelId)) })));
      const runs = planned.map((c) => (checkRun(c.settings), modelChain(c.model, c.settings).coefficients.length));
      job.progress(0, runs.reduce((a, b) => a + b, 0));
      let offset = 0;
      for (const [i, c] of planned.entries()) {
        if (job.stopped) break;
        // The grid's chains are its own: the Sample tab's chain (Continue, the filmstrip) stays.
        const run = new SampleRun(device, netsOn(device).grid.get(c.settings.modelId, c.model, c.settings.batch), c.model, c.settings);
        try {
          const result = await run.advance(() => undefined, job, Infinity, offset);
          if (result.completed) onCell(i, sendPixels(result, [result.final]));
        } finally {
          run.destroy();
        }
        offset += runs[i]!;
      }
    }),

    async filmstrip(sample) {
      if (!lastRun) throw new Error('nothing has been sampled yet');
      const f = await lastRun.filmstrip(sample);
      return sendPixels(f, [f.xs, f.x0s]);
    },

    async firstStep() {
      const run = lastRun;
      if (!run) throw new Error('nothing has been sampled yet');
      const r = await run.firstStep(await idealFor(run));
      return sendPixels(r, [r.firstX0, r.final, r.difference, ...(r.ideal ? [r.ideal.x0] : [])]);
    },

    interpolate: (settings, seedB, frames) => core.exclusive('interpolation', 'step', 1, async (job) => {
      const { model } = await models.getModel(settings.modelId);
      const xT = interpolationStart({ in_channels: model.channels, resolution: model.resolution }, settings.seed, seedB, frames);
      const device = await core.gpu();
      const run = new SampleRun(device, netsOn(device).grid.get(settings.modelId, model, frames), model, { ...settings, batch: frames }, xT);
      try {
        job.progress(0, run.coefficients.length);
        const result = await run.advance(() => undefined, job);
        job.checkStop();
        return sendPixels(result.final, [result.final]);
      } finally {
        run.destroy();
      }
    }),

    denoise: (req) => core.exclusive('denoising', 'step', 1, async (job) => {
      const { model } = await models.getModel(req.modelId);
      const clean = await cleanImage(req.image, model.resolution);
      const device = await core.gpu();
      const n = netsOn(device);
      const r = await denoise(device, { one: n.one, curve: n.curve }, req.modelId, model, clean, req.t, req.steps, req.seed, job);
      return sendPixels(r, [r.clean, r.xt, r.oneShot, r.chain]);
    }),

    invert: (req) => core.exclusive('inversion', 'step', 1, async (job) => {
      const { model } = await models.getModel(req.modelId);
      const clean = await cleanImage(req.image, model.resolution);
      const device = await core.gpu();
      const r = await invert(device, netsOn(device).one, req.modelId, model, clean, req, job);
      return sendPixels(r, [r.clean, r.xT, r.reconstruction, r.resampled]);
    }),

    async datasetImages(size, count) {
      const held = await heldOut(size);
      const n = Math.min(count, held.count);
      const per = 3 * size * size;
      const indices = Array.from({ length: n }, (_, i) => Math.floor((i * held.count) / n));
      const images = new Float32Array(n * per);
      indices.forEach((idx, i) => images.set(held.images.subarray(idx * per, (idx + 1) * per), i * per));
      const pixels = toPixels(images, 3, size);
      return sendPixels({ pixels, indices }, [pixels]);
    },
  };
}
