// The Sample and Denoise tabs' side of the engine (SamplingApi) over the shared WorkerCore: chains
// kept for Step/Continue, the filmstrip and the first-step question, interpolation, the Denoise
// chain, inversion and the held-out images.
import { interpolationStart } from '../app/sampling';
import { datasetFromRgb } from '../train/data';
import type { loadEmoji } from '../train/emoji';
import type { DenoiseRequest, SampleResult, SamplingApi, StepFrame } from './api';
import { sendPixels, type WorkerCore } from './engine-core';
import { denoise, invert } from './denoise';
import * as models from './models';
import { toPixels } from './pixels';
import { NetCache, SampleRun } from './sampling';
import { bundledEmoji } from './training';

/** UNets with a model's weights, per use, on one device. */
interface Nets {
  device: GPUDevice;
  sample: NetCache;
  one: NetCache;
  curve: NetCache;
}

export function samplingApi(core: WorkerCore): SamplingApi {
  let nets: Nets | undefined;
  let lastRun: SampleRun | undefined;
  const heldOutCache = new Map<number, ReturnType<typeof loadEmoji>>();
  // A lost device takes its nets and the kept chain with it (a new device gets new nets).
  core.onDeviceLost(() => {
    nets = undefined;
    lastRun = undefined;
  });

  const netsOn = (device: GPUDevice): Nets => {
    if (nets?.device !== device) nets = { device, sample: new NetCache(device), one: new NetCache(device), curve: new NetCache(device) };
    return nets;
  };

  const advance = async (run: SampleRun, onFrame: (f: StepFrame) => void, maxSteps = Infinity): Promise<SampleResult> => {
    const result = await run.advance((f) => onFrame(f.xt && f.x0 ? sendPixels(f, [f.xt, f.x0]) : f), () => core.stopped, maxSteps);
    return sendPixels(result, [result.final]);
  };

  const heldOut = (size: number): ReturnType<typeof loadEmoji> => {
    let p = heldOutCache.get(size);
    if (!p) {
      p = bundledEmoji(size, 'eval');
      heldOutCache.set(size, p);
    }
    return p;
  };

  /** The clean image of a Denoise-tab request, in [-1, 1] at the model's size. */
  const cleanImage = async (image: DenoiseRequest['image'], size: number): Promise<Float32Array> => {
    if (image.kind === 'rgb') return datasetFromRgb('your image', size, image.rgb).images;
    const held = await heldOut(size);
    const per = 3 * size * size;
    if (!(image.index >= 0 && image.index < held.count)) throw new Error(`image ${image.index} is not among the ${held.count} held-out emoji`);
    return held.images.slice(image.index * per, (image.index + 1) * per);
  };

  return {
    sample: (settings, onFrame, maxSteps) => core.exclusive('sampling', async () => {
      const device = await core.gpu();
      const { model } = await models.getModel(settings.modelId);
      lastRun?.destroy();
      lastRun = new SampleRun(device, netsOn(device).sample.get(settings.modelId, model, settings.batch), model, settings);
      return advance(lastRun, onFrame, maxSteps);
    }),

    continueSample: (onFrame, maxSteps) => core.exclusive('sampling', async () => {
      if (!lastRun || lastRun.done === lastRun.seq.length) throw new Error('no chain is waiting to continue; press Sample or Step to start one');
      return advance(lastRun, onFrame, maxSteps);
    }),

    async filmstrip(sample) {
      if (!lastRun) throw new Error('nothing has been sampled yet');
      const f = await lastRun.filmstrip(sample);
      return sendPixels(f, [f.xs, f.x0s]);
    },

    async firstStep() {
      if (!lastRun) throw new Error('nothing has been sampled yet');
      const r = await lastRun.firstStep();
      return sendPixels(r, [r.firstX0, r.final, r.difference]);
    },

    interpolate: (settings, seedB, frames) => core.exclusive('interpolation', async () => {
      const { model } = await models.getModel(settings.modelId);
      const xT = interpolationStart(model.config, settings.seed, seedB, frames);
      const device = await core.gpu();
      const run = new SampleRun(device, netsOn(device).sample.get(settings.modelId, model, frames), model, { ...settings, batch: frames }, xT);
      const result = await run.advance(() => undefined, () => core.stopped);
      run.destroy();
      return sendPixels(result.final, [result.final]);
    }),

    denoise: (req) => core.exclusive('denoising', async () => {
      const { model } = await models.getModel(req.modelId);
      const clean = await cleanImage(req.image, model.config.resolution);
      const device = await core.gpu();
      const n = netsOn(device);
      const r = await denoise(device, { one: n.one, curve: n.curve }, req.modelId, model, clean, req.t, req.steps, req.seed);
      return sendPixels(r, [r.clean, r.xt, r.oneShot, r.chain]);
    }),

    invert: (req) => core.exclusive('inversion', async () => {
      const { model } = await models.getModel(req.modelId);
      const clean = await cleanImage(req.image, model.config.resolution);
      const device = await core.gpu();
      const r = await invert(device, netsOn(device).one, req.modelId, model, clean, req);
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
