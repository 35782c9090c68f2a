// Training the layered model, as the seed repository does (runners/diffusion.py):
//   layer    every sub-model (t > 0) learns the noise of x_t at its own t, all from the same x0 and
//            noise in one step (the unweighted sum of their losses); gradients clipped per
//            sub-model.
//   end2end  the chain runs from the ground truth at the largest t, every step's output supervised
//            with the ground-truth trajectory (D, A or B), backpropagated through the whole chain;
//            one global gradient-norm clip over all sub-models.
// In the reduced-precision tiers the loss gradients are scaled by the dynamic loss scale
// (train/loss-scale.ts), as the DDPM trainer's; a step whose scaled gradients overflow in any
// sub-model is skipped for all of them (reduce.wgsl FLAG_LOSS_SCALE), so they keep one step count.
// One FlatOptimizer (Adam and the EMA of the weights) runs over flat buffers that hold every
// sub-model; batches, flips and noise are a function of (seed, step), drawn as train/draws.ts says.
import { recordDispatches } from '../gpu/kernel';
import { GpuOwner } from '../gpu/owner';
import { createTensor, readTensor, upload, type Tensor } from '../gpu/tensor';
import type { HostTensor, SafetensorsFile } from '../host/tensor';
import { FILE_FORMATS, metadataJson } from '../host/metadata';
import { parameterSpecs } from '../nn/architecture';
import { initParameters } from '../nn/init';
import { ParamStore, paramLayout, type ParamLayout } from '../nn/params';
import { gaussian } from '../host/rng';
import type { ImageDataset } from '../train/data';
import { NOISE_STREAM, drawBatch } from '../train/draws';
import { LossRing } from '../train/loss-ring';
import { FlatOptimizer, type OptimizerOptions } from '../train/optimizer';
import { readStores, restoreStores } from '../train/stores';
import { LOSS_SCALE_TENSOR, createLossScale, restoreLossScale, savedLossScale } from '../train/loss-scale';
import { LayerLosses, LayeredChain, type SubModelStores } from './chain';
import { abarLossWeights, chainSteps, parseLayered, type LayeredModel } from './layered';
import { groundTruth, type GroundTruth } from './truth';

/** What a layered model is trained to do. */
export interface LayeredObjective {
  mode: 'layer' | 'end2end';
  /** end2end only. */
  groundTruth: GroundTruth;
  /** end2end only: the seed's use_true_x_as_x (every step runs on the ground truth of its t). */
  useTrueXAsX: boolean;
  /** end2end only: weight each step's loss by 1/abar_t of its input t (the seed's Lightning runner). */
  lossWeights: boolean;
  /** end2end only: the seed's correction term (use_adv_loss), optionally detached; see ChainTraining. */
  correction?: { detach: boolean };
}

export interface LayeredTrainOptions extends OptimizerOptions, LayeredObjective {
  batch: number;
  seed: number;
  randomFlip: boolean;
}

type StateKind = 'params' | 'grads' | 'm' | 'v' | 'ema';

/** Every trained sub-model's parameters (and gradients, Adam moments, EMA) in one flat buffer each. */
class LayeredStores {
  readonly layouts = new Map<number, ParamLayout>();
  readonly offsets = new Map<number, number>();
  readonly total: number;
  readonly flats: Record<StateKind, Tensor>;
  readonly views: Record<StateKind, Map<number, ParamStore>>;

  constructor(device: GPUDevice, model: LayeredModel, readonly ts: number[]) {
    let total = 0;
    for (const t of ts) {
      const layout = paramLayout(parameterSpecs(model.configs.get(t)!));
      this.layouts.set(t, layout);
      this.offsets.set(t, total);
      total += layout.totalFloats;
    }
    this.total = total;
    const kinds = ['params', 'grads', 'm', 'v', 'ema'] as const;
    this.flats = Object.fromEntries(kinds.map((k) => [k, createTensor(device, [total], `layered.${k}`)])) as LayeredStores['flats'];
    this.views = Object.fromEntries(kinds.map((k) => [k, new Map(ts.map((t) => [t, new ParamStore(device, this.layouts.get(t)!, `models.${t}.${k}`, { base: this.flats[k], floatOffset: this.offsets.get(t)! })]))])) as LayeredStores['views'];
  }

  sub(): SubModelStores {
    return { params: this.views.params, grads: this.views.grads };
  }
}

export class LayeredTrainer {
  step = 0;
  private readonly stores: LayeredStores;
  private readonly plan: LayerLosses | LayeredChain;
  private readonly optimizer: FlatOptimizer;
  /** (4) the dynamic loss scale's state (S, good steps, -, skipped steps), in the reduced tiers only. */
  readonly lossScale: Tensor | undefined;
  /** Steps of the run the loss scale skipped, a resumed checkpoint's included. */
  skippedSteps = 0;
  /** Each step's losses and whether the loss scale skipped it, read once per call. */
  private readonly lossRing: LossRing;
  private readonly ringValues: Tensor[];
  private readonly ringAt: number[];
  private readonly perImage: number;
  /** Sub-models that are never run (t = 0), kept to be written back unchanged. */
  private readonly untrained: Map<string, HostTensor>;
  /** Every buffer of the run (state, plan, optimizer, loss ring), freed by destroy(). */
  private readonly owner = new GpuOwner('layered trainer');

  constructor(private readonly device: GPUDevice, readonly model: LayeredModel, readonly options: LayeredTrainOptions, readonly data: ImageDataset, initial: Map<string, HostTensor>) {
    const c = model.configs.get(model.seq[0]!)!;
    if (data.channels !== c.in_channels || data.resolution !== c.resolution) {
      throw new Error(`${data.id}: images are ${data.channels}x${data.resolution}x${data.resolution}, the layered model takes ${c.in_channels}x${c.resolution}x${c.resolution}`);
    }
    const scope = this.owner.open();
    try {
      const ts = model.seq.filter((t) => t > 0);
      this.stores = new LayeredStores(device, model, ts);
      const lossScale = createLossScale(device, 'layered');
      this.lossScale = lossScale?.scaler;
      this.plan = options.mode === 'layer'
        ? new LayerLosses(device, model, options.batch, this.stores.sub(), this.lossScale)
        : new LayeredChain(device, model, options.batch, {
          stores: this.stores.sub(), teacherForcing: options.useTrueXAsX, correction: options.correction,
          lossWeights: options.lossWeights ? abarLossWeights(model) : undefined, scaler: this.lossScale,
        });
      this.perImage = c.in_channels * c.resolution * c.resolution;
      // Named as the losses come: per sub-model by ascending t (layer), per chain step noisiest first (end2end).
      const lossTs = options.mode === 'layer' ? ts : chainSteps(model).map((s) => s.t);
      this.lossRing = new LossRing(device, [...lossTs.map((t) => `loss at t = ${t}`), ...(lossScale ? ['skipped by the loss scale'] : [])], 'layered');
      // Initial weights (validated, then uploaded), EMA from the same; the t = 0 sub-model passes through.
      const file = { tensors: initial, metadata: {}, dtypes: new Map<string, string>() };
      const packed = ts.map((t) => this.stores.views.params.get(t)!.pack(file, 'initial weights', `models.${t}.`));
      ts.forEach((t, i) => {
        upload(device, this.stores.views.params.get(t)!.flat, packed[i]!);
        upload(device, this.stores.views.ema.get(t)!.flat, packed[i]!);
      });
      this.untrained = new Map([...initial].filter(([n]) => n.startsWith(`models.${model.seq[0]}.`)));
      // end2end: one global clip over the chain, as the seed; layer: one clip per sub-model.
      const f = this.stores.flats, v = this.stores.views;
      const groups = options.mode === 'layer' ? ts.map((t) => ({ label: `models.${t}`, params: v.params.get(t)!.flat, grads: v.grads.get(t)!.flat, m: v.m.get(t)!.flat, v: v.v.get(t)!.flat })) : undefined;
      this.optimizer = new FlatOptimizer(device, f, options, 'layered', groups, lossScale);
      // Each step's losses, then (reduced tiers) whether it was skipped: clip[2], the same in every group.
      this.ringValues = [...this.plan.losses, ...(lossScale ? [this.optimizer.clips[0]!] : [])];
      this.ringAt = [...this.plan.losses.map(() => 0), 2];
      scope.keep();
    } finally {
      scope.close();
    }
  }

  /** Frees the run's GPU buffers. */
  destroy(): void {
    this.owner.destroy();
  }

  /** Bytes of one of the five flat state buffers (parameters, gradients, Adam m and v, EMA). */
  get stateBufferBytes(): number {
    return this.stores.flats.params.buffer.size;
  }

  /** Trained parameters (every sub-model but the one at t = 0). */
  get parameters(): number {
    return [...this.stores.layouts.values()].reduce((s, l) => s + l.count, 0);
  }

  /** The EMA weights of sub-model t, on the GPU (for sampling while training). */
  emaStore(t: number): ParamStore {
    const store = this.stores.views.ema.get(t);
    if (!store) throw new Error(`layered trainer: no trained sub-model at t = ${t}`);
    return store;
  }

  /** Runs n steps; returns each step's losses (layer: per sub-model, ascending t; end2end: per chain step). */
  async trainSteps(n: number): Promise<Float32Array[]> {
    LossRing.checkSteps(n, 'layered trainer');
    const { batch: B, seed } = this.options;
    const x0 = new Float32Array(B * this.perImage);
    for (let i = 0; i < n; i++) {
      const k = ++this.step;
      drawBatch(this.data, seed, k, B, this.options.randomFlip, x0);
      const noise = gaussian(seed, NOISE_STREAM, k, x0.length);
      if (this.plan instanceof LayerLosses) {
        upload(this.device, this.plan.x0, x0);
        upload(this.device, this.plan.noise, noise);
      } else {
        groundTruth(this.options.groundTruth, this.model, x0, noise, seed + k).forEach((x, j) => upload(this.device, (this.plan as LayeredChain).trueXs[j]!, x));
      }
      this.optimizer.setStep(k);
      const encoder = this.device.createCommandEncoder({ label: `layered train step ${k}` });
      if (this.plan instanceof LayerLosses) this.plan.encode(encoder);
      else this.plan.encodeEndToEnd(encoder);
      const pass = encoder.beginComputePass({ label: 'layered update' });
      recordDispatches(pass, this.optimizer.dispatches);
      pass.end();
      this.lossRing.record(encoder, i, this.ringValues, this.ringAt);
      this.device.queue.submit([encoder.finish()]);
    }
    const rows = await this.lossRing.read(this.device, n, this.step - n + 1);
    const K = this.plan.losses.length;
    for (const r of rows) this.skippedSteps += r[K] ?? 0;
    return rows.map((r) => r.subarray(0, K));
  }

  /** The EMA weights as a layered file (`models.<t>.*`, the t = 0 sub-model as it came). */
  async weights(metadata: Record<string, string>): Promise<{ tensors: Map<string, HostTensor>; metadata: Record<string, string> }> {
    const tensors = new Map([...this.untrained, ...await readStores(this.resumeStores([['', 'ema']]), `layered weights at step ${this.step}`)]);
    return { tensors, metadata: { ...metadata, format: FILE_FORMATS.layered, trainer: JSON.stringify(this.options), step: String(this.step) } };
  }

  /**
   * A layered file that also continues exactly: the EMA weights as `models.<t>.*` (so it samples as
   * it is), plus the raw weights and Adam moments under `model/`, `adam_m/`, `adam_v/`.
   */
  async checkpoint(metadata: Record<string, string>): Promise<{ tensors: Map<string, HostTensor>; metadata: Record<string, string> }> {
    const out = await this.weights(metadata);
    for (const [name, v] of await readStores(this.resumeStores(RESUME_STATE), `layered checkpoint at step ${this.step}`)) out.tensors.set(name, v);
    // The loss scale's state, so that a resumed run continues with the same scale and step count.
    if (this.lossScale) out.tensors.set(LOSS_SCALE_TENSOR, { shape: [4], data: await readTensor(this.device, this.lossScale) });
    return out;
  }

  /** The settings and step a `checkpoint()` file continues with (validated). */
  static saved(file: SafetensorsFile, source: string): { options: LayeredTrainOptions; step: number } {
    const md = file.metadata;
    const options = metadataJson(md, 'trainer', source) as LayeredTrainOptions | undefined;
    const step = Number(md.step);
    if (options === undefined || !Number.isInteger(step) || step < 0) throw new Error(`${source}: not a layered training checkpoint (needs "trainer" and "step" in __metadata__)`);
    if (![...file.tensors.keys()].some((n) => n.startsWith('adam_m/'))) throw new Error(`${source}: holds weights but no optimizer state (adam_m/, adam_v/); start a new run from it with --init`);
    return { options, step };
  }

  /** Every sub-model's store of each kind, under `<prefix>models.<t>.`. */
  private resumeStores(kinds: readonly (readonly [string, StateKind])[]): [string, ParamStore][] {
    return kinds.flatMap(([prefix, kind]) => [...this.stores.views[kind]].map(([t, store]): [string, ParamStore] => [`${prefix}models.${t}.`, store]));
  }

  /** Continues a run from `checkpoint()`'s file; every tensor is validated before anything is written. */
  static resume(device: GPUDevice, file: SafetensorsFile, source: string, data: ImageDataset): LayeredTrainer {
    const { options, step } = LayeredTrainer.saved(file, source);
    const model = parseLayered(file, source);
    const scale = savedLossScale(file, step, source);
    const emaOnly = new Map([...file.tensors].filter(([n]) => n.startsWith('models.')));
    const trainer = new LayeredTrainer(device, model, options, data, emaOnly);
    restoreStores(file, source, trainer.resumeStores(RESUME_STATE));
    // The constructor set the EMA from `models.<t>.*`, which is the EMA: nothing else to restore.
    trainer.skippedSteps = restoreLossScale(device, trainer.lossScale, scale);
    trainer.step = step;
    return trainer;
  }
}

/** The state a checkpoint adds to the EMA weights, by tensor-name prefix. */
const RESUME_STATE = [['model/', 'params'], ['adam_m/', 'm'], ['adam_v/', 'v']] as const;

/** Freshly initialised weights (PyTorch's default init) for every sub-model of a layered model. */
export function initLayered(model: LayeredModel, seed: number): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  model.seq.forEach((t, i) => {
    const layout = paramLayout(parameterSpecs(model.configs.get(t)!));
    const flat = initParameters(layout, seed + i);
    for (const s of layout.specs) {
      const off = layout.offsets.get(s.name)!;
      out.set(`models.${t}.${s.name}`, { shape: [...s.shape], data: flat.slice(off, off + s.shape.reduce((a, b) => a * b, 1)) });
    }
  });
  return out;
}
