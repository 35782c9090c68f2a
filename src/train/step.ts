// One optimisation step of the DDPM objective, planned once and replayed:
//   xt = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise;  loss = mean_b sum_chw (noise - eps(xt, t))^2
//   grads (zeroed, then accumulated by backward) -> FlatOptimizer (global-norm clip, Adam, EMA).
// In the reduced-precision tiers (gpu/tier.ts) the loss gradient is multiplied by a dynamic loss
// scale S first, so that small gradients survive the GEMMs' f16 operands; the clip unscales, and a
// step whose scaled gradients overflow is skipped with S halved (reduce.wgsl FLAG_LOSS_SCALE).
// Everything runs in one command buffer; the host only writes t, the per-sample coefficients
// and Adam's bias corrections before submitting.
import { recordDispatches, type Dispatch } from '../gpu/kernel';
import { GpuOwner } from '../gpu/owner';
import { createTensor, upload, type Tensor } from '../gpu/tensor';
import { ddpmLossBackward, ddpmLossForward, qSample, unitLossWeights } from '../kernels/loss';
import type { UNetConfig } from '../nn/config';
import { ParamStore } from '../nn/params';
import { UNet } from '../nn/unet';
import { FlatOptimizer, type OptimizerOptions } from './optimizer';
import { createLossScale } from './loss-scale';

export class TrainStep {
  readonly net: UNet;
  readonly x0: Tensor;
  readonly noise: Tensor;
  /** (B, 2): per-sample sqrt(abar_t), sqrt(1 - abar_t). */
  readonly coef: Tensor;
  /** (B): per-sample loss weight (ones, or min-SNR weights: setTimesteps writes them). */
  readonly lossWeights: Tensor;
  /** (1): the loss of the last step. */
  readonly loss: Tensor;
  /** (4): gradient norm before clipping, the clip scale applied, skipped (1) or not (0), the loss scale used. */
  readonly gradNorm: Tensor;
  /** (4) the dynamic loss scale's state (S, good steps, -, skipped steps), in the reduced tiers only. */
  readonly lossScale: Tensor | undefined;
  readonly m: ParamStore;
  readonly v: ParamStore;
  readonly ema: ParamStore;
  /** The whole step in order (the profile times them one by one). */
  readonly dispatches: Dispatch[];
  /** Clip, Adam and EMA over the whole model (gradNorm is its clip tensor). */
  readonly optimizer: FlatOptimizer;

  /** Every buffer of the step (its UNet's included), freed by destroy(). */
  readonly owner: GpuOwner;

  constructor(private readonly device: GPUDevice, config: UNetConfig, batch: number, readonly opt: OptimizerOptions, label = 'train') {
    this.owner = new GpuOwner(label);
    const scope = this.owner.open();
    try {
      const { in_channels: C, resolution: R } = config;
      this.x0 = createTensor(device, [batch, C, R, R], `${label}.x0`);
      this.noise = createTensor(device, [batch, C, R, R], `${label}.noise`);
      const xt = createTensor(device, [batch, C, R, R], `${label}.xt`);
      this.net = new UNet(device, config, { batch, grad: true, input: xt, label: `${label}.unet` });
      this.coef = createTensor(device, [batch, 2], `${label}.coef`);
      this.lossWeights = unitLossWeights(device, batch, `${label}.loss_weights`);
      this.loss = createTensor(device, [1], `${label}.loss`);
      const layout = this.net.layout;
      this.m = new ParamStore(device, layout, `${label}.adam_m`);
      this.v = new ParamStore(device, layout, `${label}.adam_v`);
      this.ema = new ParamStore(device, layout, `${label}.ema`);
      const grads = this.net.grads!.flat;
      const lossScale = createLossScale(device, label);
      this.lossScale = lossScale?.scaler;
      this.optimizer = new FlatOptimizer(device, { params: this.net.params.flat, grads, m: this.m.flat, v: this.v.flat, ema: this.ema.flat }, opt, label, undefined, lossScale);
      this.gradNorm = this.optimizer.clips[0]!;
      const lossArgs = { eps: this.net.eps, noise: this.noise, weights: this.lossWeights };
      this.dispatches = [
        qSample(device, { x0: this.x0, noise: this.noise, coef: this.coef, xt, label: `${label}.q_sample` }),
        ...this.net.forward,
        ...ddpmLossForward(device, { ...lossArgs, loss: this.loss, label: `${label}.loss` }),
        ddpmLossBackward(device, { ...lossArgs, deps: this.net.deps!, scaler: this.lossScale, label: `${label}.dloss` }),
        ...this.net.backward,
        ...this.optimizer.dispatches,
      ];
      scope.keep();
    } finally {
      scope.close();
    }
  }

  /** Frees every GPU buffer of the step, its UNet's included. */
  destroy(): void {
    this.owner.destroy();
  }

  /** GPU bytes this step holds: every buffer it (and its UNet) allocated. */
  get memoryBytes(): number {
    return this.owner.bytes;
  }

  /**
   * Records step number `step` (1-based, for Adam's bias correction) into `encoder`, at learning
   * rate `lr` (default: the planned one). The caller has written x0, noise, net.t and coef.
   */
  encode(encoder: GPUCommandEncoder, step: number, lr = this.opt.lr): void {
    this.optimizer.setStep(step, lr);
    encoder.clearBuffer(this.net.grads!.flat.buffer);
    const pass = encoder.beginComputePass({ label: 'train step' });
    recordDispatches(pass, this.dispatches);
    pass.end();
  }

  /** Writes t, the q_sample coefficients and (when given, per timestep) the loss weights for integer timesteps `t` given alpha-bar. */
  setTimesteps(t: ArrayLike<number>, abar: Float64Array, weightOfT?: Float64Array): void {
    const B = this.coef.shape[0]!;
    if (t.length !== B) throw new Error(`train step: ${t.length} timesteps for a batch of ${B}`);
    const coef = new Float32Array(2 * B);
    const tf = new Float32Array(B);
    for (let b = 0; b < B; b++) {
      const tb = t[b]!;
      if (!Number.isInteger(tb) || tb < 0 || tb >= abar.length) throw new Error(`train step: timestep ${tb} outside [0, ${abar.length})`);
      coef[2 * b] = Math.sqrt(abar[tb]!);
      coef[2 * b + 1] = Math.sqrt(1 - abar[tb]!);
      tf[b] = tb;
    }
    this.device.queue.writeBuffer(this.coef.buffer, this.coef.offset, coef);
    this.device.queue.writeBuffer(this.net.t.buffer, this.net.t.offset, tf);
    if (weightOfT) upload(this.device, this.lossWeights, Float32Array.from(tf, (tb) => weightOfT[tb]!));
  }
}
