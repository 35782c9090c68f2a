// The layered model's training on the GPU: end-to-end through the chain of sub-models, and the
// per-step ("layer") noise-prediction losses. (Sampling runs the chain through the one Sampler:
// research/layered-step.ts.) Every sub-model is a UNet plan whose input
// is the previous step's output tensor, so the chain is one dispatch list with no copies; its
// backward runs the steps in reverse, carrying d(loss)/dx from each step's input to the one before.
import { recordDispatches, type Dispatch } from '../gpu/kernel';
import { createTensor, upload, type Tensor } from '../gpu/tensor';
import type { HostTensor, SafetensorsFile } from '../host/tensor';
import { addInto } from '../kernels/elementwise';
import { ddpmLossBackward, ddpmLossForward, qSample, unitLossWeights } from '../kernels/loss';
import type { ParamStore } from '../nn/params';
import { UNet } from '../nn/unet';
import { chainSteps, type LayeredModel } from './layered';

/** Parameter and gradient stores per sub-model t (views into shared buffers, for the trainer); allocated per plan when absent. */
export interface SubModelStores {
  params: ReadonlyMap<number, ParamStore>;
  grads: ReadonlyMap<number, ParamStore>;
}

function storesFor(stores: SubModelStores | undefined, t: number): { params?: ParamStore; grads?: ParamStore } {
  return stores ? { params: stores.params.get(t)!, grads: stores.grads.get(t)! } : {};
}

function imageShape(m: LayeredModel, batch: number): number[] {
  const c = m.configs.get(m.seq[0]!)!;
  return [batch, c.in_channels, c.resolution, c.resolution];
}

/** Loads `models.<t>.*` of a layered file into each plan's parameters. */
export function loadSubModels(device: GPUDevice, nets: readonly { t: number; net: UNet }[], file: SafetensorsFile, source: string): void {
  const packed = nets.map(({ t, net }) => net.params.pack(file, source, `models.${t}.`)); // validate all before writing any
  nets.forEach(({ net }, i) => upload(device, net.params.flat, packed[i]!));
}

async function readGrads(nets: readonly { t: number; net: UNet }[]): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const { t, net } of nets) for (const [name, g] of await net.grads!.read()) out.set(`models.${t}.${name}`, g);
  return out;
}

/** End-to-end training options of the chain (all default off). */
export interface ChainTraining {
  /** Parameter and gradient stores per sub-model (the trainer's shared buffers); allocated per net when absent. */
  stores?: SubModelStores;
  /** The seed's use_true_x_as_x: every step after the first runs on the ground truth of its t, so each step learns alone. */
  teacherForcing?: boolean;
  /** One weight per step, noisiest first, on that step's loss in the differentiated sum (the seed's 1/abar_t). */
  lossWeights?: readonly number[];
  /**
   * The seed's correction term (use_adv_loss): step k's residual becomes
   *   r_k = x_{k+1} - true_{k+1} - a_k (x_k - true_k),
   * which takes out the error the step inherits through a_k x_k, leaving b_k eps_k(x_k) + a_k true_k - true_{k+1}
   * (for ground truth D, b_k (eps_k(x_k) - noise): the noise loss on the chain's own input). With `detach`,
   * the subtracted a_k x_k is a constant to the gradient.
   */
  correction?: { detach: boolean };
  /** The dynamic loss scale's state (reduced-precision tiers): every loss gradient is multiplied by its S. */
  scaler?: Tensor;
}

export class LayeredChain {
  readonly steps: ReturnType<typeof chainSteps>;
  /** x at every point of the chain: xs[0] = x_T (the input), xs[k + 1] after step k. */
  readonly xs: Tensor[];
  readonly nets: { t: number; net: UNet }[];
  readonly forward: Dispatch[] = [];
  /** The ground-truth trajectory (xs[0] is the chain's own input) and one loss per step. */
  readonly trueXs: Tensor[] = [];
  readonly losses: Tensor[] = [];
  private readonly training: Dispatch[] = [];

  /** `options` configures the end-to-end losses; see ChainTraining. */
  constructor(private readonly device: GPUDevice, readonly model: LayeredModel, batch: number, readonly options: ChainTraining = {}) {
    const { teacherForcing = false, lossWeights } = options;
    this.steps = chainSteps(model);
    if (lossWeights && lossWeights.length !== this.steps.length) throw new Error(`layered chain: ${lossWeights.length} loss weights for ${this.steps.length} steps`);
    const shape = imageShape(model, batch);
    this.xs = [createTensor(device, shape, 'layered.x_T')];
    for (let k = 0; k <= this.steps.length; k++) this.trueXs.push(createTensor(device, shape, `layered.true_x.${k}`));
    this.nets = this.steps.map((s, k) => {
      const input = teacherForcing && k > 0 ? this.trueXs[k]! : this.xs[k]!;
      const net = new UNet(device, model.configs.get(s.t)!, { batch, grad: true, input, label: `models.${s.t}`, ...storesFor(options.stores, s.t) });
      const out = createTensor(device, shape, `layered.x_${s.next}`);
      this.forward.push(
        ...net.forward,
        addInto(device, { x: input, y: out, alpha: s.a, accumulate: false, label: `layered.step_${s.t}.a` }),
        addInto(device, { x: net.eps, y: out, alpha: s.b, accumulate: true, label: `layered.step_${s.t}.b` }),
      );
      this.xs.push(out);
      return { t: s.t, net };
    });
    this.planEndToEnd(shape);
  }

  /**
   * Losses mean_b sum_chw (x_{k+1} - target_k)^2 and the gradient of their (weighted) sum, back through
   * every step. target_k = true_{k+1}, or with the correction term true_{k+1} + a_k (x_k - true_k).
   */
  private planEndToEnd(shape: number[]): void {
    const d = this.device, K = this.steps.length;
    const { teacherForcing = false, lossWeights, correction, scaler } = this.options;
    const targets = this.steps.map((s, k) => {
      if (!correction || k === 0) return this.trueXs[k + 1]!; // x_0 of the chain is true_0: nothing to correct
      const target = createTensor(d, shape, `layered.target.${k}`);
      this.training.push(
        addInto(d, { x: this.trueXs[k + 1]!, y: target, accumulate: false, label: `layered.target.${k}.true` }),
        addInto(d, { x: this.xs[k]!, y: target, alpha: s.a, accumulate: true, label: `layered.target.${k}.x` }),
        addInto(d, { x: this.trueXs[k]!, y: target, alpha: -s.a, accumulate: true, label: `layered.target.${k}.true_prev` }),
      );
      return target;
    });
    const weights = unitLossWeights(d, shape[0]!, 'layered.loss_weights');
    for (let k = 0; k < K; k++) {
      this.losses.push(createTensor(d, [1], `layered.loss.${k}`));
      this.training.push(...ddpmLossForward(d, { eps: this.xs[k + 1]!, noise: targets[k]!, weights, loss: this.losses[k]!, label: `layered.loss.${k}` }));
    }
    // d loss_k / d x_{k+1} = 2/B (x_{k+1} - target_k) w_k: the DDPM loss gradient with eps := x, noise := target.
    // With the full correction, loss_k also reaches x_k, with the factor -a_k.
    const w = (k: number): number => lossWeights?.[k] ?? 1;
    const residualGrad = (k: number, into: Tensor): Dispatch => ddpmLossBackward(d, { eps: this.xs[k + 1]!, noise: targets[k]!, weights, deps: into, weight: w(k), scaler, label: `layered.dloss.${k}` });
    const through = correction && !correction.detach;
    const g = this.xs.map((_, k) => (k === 0 ? null : createTensor(d, shape, `layered.dx.${k}`)));
    const r = this.steps.map((_, k) => (through && k > 0 ? createTensor(d, shape, `layered.dresidual.${k}`) : null));
    this.training.push(residualGrad(K - 1, r[K - 1] ?? g[K]!));
    if (r[K - 1]) this.training.push(addInto(d, { x: r[K - 1]!, y: g[K]!, accumulate: false, label: `layered.dx.${K}` }));
    for (let k = K - 1; k >= 0; k--) {
      const { net } = this.nets[k]!, s = this.steps[k]!;
      this.training.push(addInto(d, { x: g[k + 1]!, y: net.deps!, alpha: s.b, accumulate: false, label: `layered.step_${s.t}.deps` }), ...net.backward);
      if (k === 0) break;
      if (r[k - 1]) {
        this.training.push(residualGrad(k - 1, r[k - 1]!), addInto(d, { x: r[k - 1]!, y: g[k]!, accumulate: false, label: `layered.dx.${k}` }));
      } else {
        this.training.push(residualGrad(k - 1, g[k]!));
      }
      if (r[k]) this.training.push(addInto(d, { x: r[k]!, y: g[k]!, alpha: -s.a, accumulate: true, label: `layered.dx.${k}.correction` }));
      // Teacher forcing cuts the chain: step k read the ground truth, not x_k, so nothing flows back.
      if (!teacherForcing) {
        this.training.push(
          addInto(d, { x: g[k + 1]!, y: g[k]!, alpha: s.a, accumulate: true, label: `layered.step_${s.t}.dx_a` }),
          addInto(d, { x: net.dx!, y: g[k]!, accumulate: true, label: `layered.step_${s.t}.dx_net` }),
        );
      }
    }
  }

  load(file: SafetensorsFile, source: string): void {
    loadSubModels(this.device, this.nets, file, source);
  }

  /** Chain from trueXs[0], losses against trueXs[1..], gradients (zeroed first) of their sum. */
  encodeEndToEnd(encoder: GPUCommandEncoder): void {
    for (const { net } of this.nets) encoder.clearBuffer(net.grads!.flat.buffer);
    encoder.copyBufferToBuffer(this.trueXs[0]!.buffer, this.trueXs[0]!.offset, this.xs[0]!.buffer, this.xs[0]!.offset, this.trueXs[0]!.shape.reduce((a, b) => a * b, 4));
    const pass = encoder.beginComputePass({ label: 'layered end2end' });
    recordDispatches(pass, [...this.forward, ...this.training]);
    pass.end();
  }

  readGrads(): Promise<Map<string, HostTensor>> {
    return readGrads(this.nets);
  }
}

/**
 * The per-step loss: every sub-model (t > 0) predicts the noise of x_t = sqrt(abar_t) x0 +
 * sqrt(1 - abar_t) noise at its own t, from the same x0 and noise; losses in ascending t.
 */
export class LayerLosses {
  readonly x0: Tensor;
  readonly noise: Tensor;
  readonly nets: { t: number; net: UNet }[];
  readonly losses: Tensor[] = [];
  private readonly dispatches: Dispatch[] = [];

  /** `scaler`: the dynamic loss scale's state (reduced-precision tiers); the loss gradients are multiplied by its S. */
  constructor(private readonly device: GPUDevice, readonly model: LayeredModel, batch: number, stores?: SubModelStores, scaler?: Tensor) {
    const shape = imageShape(model, batch);
    this.x0 = createTensor(device, shape, 'layer.x0');
    this.noise = createTensor(device, shape, 'layer.noise');
    const weights = unitLossWeights(device, batch, 'layer.loss_weights');
    this.nets = model.seq.filter((t) => t > 0).map((t) => {
      const xt = createTensor(device, shape, `layer.x_${t}`);
      const coef = createTensor(device, [batch, 2], `layer.coef_${t}`);
      const a = model.abar[t]!;
      upload(device, coef, Float32Array.from({ length: 2 * batch }, (_, i) => (i % 2 === 0 ? Math.sqrt(a) : Math.sqrt(1 - a))));
      const net = new UNet(device, model.configs.get(t)!, { batch, grad: true, input: xt, label: `models.${t}`, ...storesFor(stores, t) });
      const loss = createTensor(device, [1], `layer.loss_${t}`);
      this.losses.push(loss);
      this.dispatches.push(
        qSample(device, { x0: this.x0, noise: this.noise, coef, xt, label: `layer.q_sample_${t}` }),
        ...net.forward,
        ...ddpmLossForward(device, { eps: net.eps, noise: this.noise, weights, loss, label: `layer.loss_${t}` }),
        ddpmLossBackward(device, { eps: net.eps, noise: this.noise, weights, deps: net.deps!, scaler, label: `layer.dloss_${t}` }),
        ...net.backward,
      );
      return { t, net };
    });
  }

  load(file: SafetensorsFile, source: string): void {
    loadSubModels(this.device, this.nets, file, source);
  }

  encode(encoder: GPUCommandEncoder): void {
    for (const { net } of this.nets) encoder.clearBuffer(net.grads!.flat.buffer);
    const pass = encoder.beginComputePass({ label: 'layer losses' });
    recordDispatches(pass, this.dispatches);
    pass.end();
  }

  readGrads(): Promise<Map<string, HostTensor>> {
    return readGrads(this.nets);
  }
}
