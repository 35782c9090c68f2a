// Training the layered model, as the seed repository does (runners/diffusion.py):
//   layer    every sub-model (t > 0) learns the noise of x_t at its own t, all from the same x0 and
//            noise in one step (the unweighted sum of their losses); gradients clipped per
//            sub-model.
//   end2end  the chain runs from the ground truth at the largest t, every step's output supervised
//            with the ground-truth trajectory (D, A or B), backpropagated through the whole chain;
//            one global gradient-norm clip over all sub-models.
// Adam (elementwise, so one optimizer over all sub-models) and the EMA of the weights run on one flat
// buffer that holds every sub-model; batches, flips and noise are a function of (seed, step).
import { recordDispatches, type Dispatch } from '../gpu/kernel';
import { createTensor, readTensor, upload, type Tensor } from '../gpu/tensor';
import type { HostTensor, SafetensorsFile } from '../host/tensor';
import { metadataJson } from '../host/metadata';
import { adamStep, emaUpdate } from '../kernels/adam';
import { gradNormAndClip } from '../kernels/reduce';
import { parameterSpecs } from '../nn/architecture';
import { initParameters } from '../nn/init';
import { ParamStore, paramLayout, type ParamLayout } from '../nn/params';
import { gaussian, uniform } from '../host/rng';
import { gatherBatch, type ImageDataset } from '../train/data';
import { TrainingDiverged } from '../train/trainer';
import type { OptimizerOptions } from '../train/step';
import { LayerLosses, LayeredChain, type SubModelStores } from './chain';
import { LAYERED_FORMAT, abarLossWeights, parseLayered, type LayeredModel } from './layered';
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

const INDEX_STREAM = 1, FLIP_STREAM = 3, NOISE_STREAM = 4;

/** Every trained sub-model's parameters (and gradients, Adam moments, EMA) in one flat buffer each. */
class LayeredStores {
  readonly layouts = new Map<number, ParamLayout>();
  readonly offsets = new Map<number, number>();
  readonly total: number;
  readonly flats: Record<'params' | 'grads' | 'm' | 'v' | 'ema', Tensor>;
  readonly views: Record<'params' | 'grads' | 'm' | 'v' | 'ema', Map<number, ParamStore>>;

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
  private readonly update: Dispatch[] = [];
  private readonly setAdamSteps: ((step: number) => void)[] = [];
  private readonly lossRing: Tensor;
  private readonly perImage: number;
  /** Sub-models that are never run (t = 0), kept to be written back unchanged. */
  private readonly untrained: Map<string, HostTensor>;

  constructor(private readonly device: GPUDevice, readonly model: LayeredModel, readonly options: LayeredTrainOptions, readonly data: ImageDataset, initial: Map<string, HostTensor>) {
    const c = model.configs.get(model.seq[0]!)!;
    if (data.channels !== c.in_channels || data.resolution !== c.resolution) {
      throw new Error(`${data.id}: images are ${data.channels}x${data.resolution}x${data.resolution}, the layered model takes ${c.in_channels}x${c.resolution}x${c.resolution}`);
    }
    const ts = model.seq.filter((t) => t > 0);
    this.stores = new LayeredStores(device, model, ts);
    this.plan = options.mode === 'layer'
      ? new LayerLosses(device, model, options.batch, this.stores.sub())
      : new LayeredChain(device, model, options.batch, true, {
        stores: this.stores.sub(), teacherForcing: options.useTrueXAsX, correction: options.correction,
        lossWeights: options.lossWeights ? abarLossWeights(model) : undefined,
      });
    this.perImage = c.in_channels * c.resolution * c.resolution;
    this.lossRing = createTensor(device, [1024 * this.plan.losses.length], 'layered.loss_ring');
    // Initial weights (validated, then uploaded), EMA from the same; the t = 0 sub-model passes through.
    const file = { tensors: initial, metadata: {}, dtypes: new Map<string, string>() };
    const packed = ts.map((t) => this.stores.views.params.get(t)!.pack(file, 'initial weights', `models.${t}.`));
    ts.forEach((t, i) => {
      upload(device, this.stores.views.params.get(t)!.flat, packed[i]!);
      upload(device, this.stores.views.ema.get(t)!.flat, packed[i]!);
    });
    this.untrained = new Map([...initial].filter(([n]) => n.startsWith(`models.${model.seq[0]}.`)));
    this.planUpdate(ts);
  }

  private planUpdate(ts: number[]): void {
    const d = this.device, o = this.options, s = this.stores;
    const adam = (params: Tensor, grads: Tensor, m: Tensor, v: Tensor, clip: Tensor, label: string): Dispatch => {
      const a = adamStep(d, { params, grads, m, v, clip, lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, label });
      this.setAdamSteps.push(a.setStep);
      return a.dispatch;
    };
    if (o.mode === 'end2end') {
      const clip = createTensor(d, [2], 'layered.clip');
      this.update.push(...gradNormAndClip(d, { grads: s.flats.grads, out: clip, maxNorm: o.gradClip, label: 'layered.clip' }), adam(s.flats.params, s.flats.grads, s.flats.m, s.flats.v, clip, 'layered.adam'));
    } else {
      for (const t of ts) {
        const clip = createTensor(d, [2], `models.${t}.clip`);
        const v = (k: 'params' | 'grads' | 'm' | 'v'): Tensor => s.views[k].get(t)!.flat;
        this.update.push(...gradNormAndClip(d, { grads: v('grads'), out: clip, maxNorm: o.gradClip, label: `models.${t}.clip` }), adam(v('params'), v('grads'), v('m'), v('v'), clip, `models.${t}.adam`));
      }
    }
    this.update.push(emaUpdate(d, { ema: s.flats.ema, params: s.flats.params, rate: o.emaRate, label: 'layered.ema' }).dispatch);
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
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`layered trainer: steps per call must be in [1, 1024], got ${n}`);
    const { batch: B, seed } = this.options;
    const K = this.plan.losses.length;
    const x0 = new Float32Array(B * this.perImage);
    for (let i = 0; i < n; i++) {
      const k = ++this.step;
      const indices = Array.from(uniform(seed, INDEX_STREAM, k, B), (u) => Math.floor(u * this.data.count));
      const flips = Array.from(uniform(seed, FLIP_STREAM, k, B), (u) => this.options.randomFlip && u < 0.5);
      gatherBatch(this.data, indices, flips, x0);
      const noise = gaussian(seed, NOISE_STREAM, k, x0.length);
      if (this.plan instanceof LayerLosses) {
        upload(this.device, this.plan.x0, x0);
        upload(this.device, this.plan.noise, noise);
      } else {
        groundTruth(this.options.groundTruth, this.model, x0, noise, seed + k).forEach((x, j) => upload(this.device, (this.plan as LayeredChain).trueXs[j]!, x));
      }
      for (const set of this.setAdamSteps) set(k);
      const encoder = this.device.createCommandEncoder({ label: `layered train step ${k}` });
      if (this.plan instanceof LayerLosses) this.plan.encode(encoder);
      else this.plan.encodeEndToEnd(encoder);
      const pass = encoder.beginComputePass({ label: 'layered update' });
      recordDispatches(pass, this.update);
      pass.end();
      this.plan.losses.forEach((l, j) => encoder.copyBufferToBuffer(l.buffer, l.offset, this.lossRing.buffer, this.lossRing.offset + (i * K + j) * 4, 4));
      this.device.queue.submit([encoder.finish()]);
    }
    const ring = await readTensor(this.device, this.lossRing);
    const bad = ring.subarray(0, n * K).findIndex((l) => !Number.isFinite(l));
    if (bad >= 0) throw new TrainingDiverged(this.step - n + Math.floor(bad / K) + 1, ring[bad]!);
    return Array.from({ length: n }, (_, i) => ring.slice(i * K, (i + 1) * K));
  }

  /** The EMA weights as a layered file (`models.<t>.*`, the t = 0 sub-model as it came). */
  async weights(metadata: Record<string, string>): Promise<{ tensors: Map<string, HostTensor>; metadata: Record<string, string> }> {
    const tensors = new Map(this.untrained);
    for (const [t, store] of this.stores.views.ema) for (const [name, v] of await store.read()) tensors.set(`models.${t}.${name}`, v);
    return { tensors, metadata: { ...metadata, format: LAYERED_FORMAT, trainer: JSON.stringify(this.options), step: String(this.step) } };
  }

  /**
   * A layered file that also continues exactly: the EMA weights as `models.<t>.*` (so it samples as
   * it is), plus the raw weights and Adam moments under `model/`, `adam_m/`, `adam_v/`.
   */
  async checkpoint(metadata: Record<string, string>): Promise<{ tensors: Map<string, HostTensor>; metadata: Record<string, string> }> {
    const out = await this.weights(metadata);
    for (const [prefix, kind] of RESUME_STATE) {
      for (const [t, store] of this.stores.views[kind]) for (const [name, v] of await store.read()) out.tensors.set(`${prefix}models.${t}.${name}`, v);
    }
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

  /** Continues a run from `checkpoint()`'s file; every tensor is validated before anything is written. */
  static resume(device: GPUDevice, file: SafetensorsFile, source: string, data: ImageDataset): LayeredTrainer {
    const { options, step } = LayeredTrainer.saved(file, source);
    const model = parseLayered(file, source);
    const emaOnly = new Map([...file.tensors].filter(([n]) => n.startsWith('models.')));
    const trainer = new LayeredTrainer(device, model, options, data, emaOnly);
    const s = trainer.stores;
    const packed = RESUME_STATE.flatMap(([prefix, kind]) => [...s.views[kind]].map(([t, store]) => [store, store.pack(file, source, `${prefix}models.${t}.`)] as const));
    for (const [store, flat] of packed) upload(device, store.flat, flat);
    // The constructor set the EMA from `models.<t>.*`, which is the EMA: nothing else to restore.
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
