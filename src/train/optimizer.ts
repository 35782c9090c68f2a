// The one optimizer of every trainer, over flat buffers (parameters, gradients, Adam m and v, EMA)
// that hold one model or several (the layered model's sub-models, side by side): gradient-norm clip,
// Adam, then the EMA of the weights. Adam and the EMA are elementwise, so a whole buffer is one
// dispatch each; the clip is one global norm, or one per group (the seed's per-sub-model clipping).
import type { Dispatch } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import { adamStep, emaUpdate } from '../kernels/adam';
import { gradNormAndClip, type LossScaleState } from '../kernels/reduce';

export interface OptimizerOptions {
  lr: number;
  beta1: number;
  beta2: number;
  /** Adam's epsilon. */
  eps: number;
  weightDecay: number;
  /** Gradient-norm clip; 0 disables clipping. */
  gradClip: number;
  /** EMA rate of the weights (0.9999 in DDPM). */
  emaRate: number;
}

/** The reference's optimiser: Adam(lr 2e-4, betas 0.9/0.999, eps 1e-8), clip 1.0, EMA 0.9999. */
export const DEFAULT_OPTIMIZER: OptimizerOptions = { lr: 2e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 1, emaRate: 0.9999 };

/** Flat parameters with their gradients and Adam moments. */
export interface AdamState {
  params: Tensor;
  grads: Tensor;
  m: Tensor;
  v: Tensor;
}

/** The whole flat state: every group's views lie within these buffers. */
export interface OptimizerState extends AdamState {
  ema: Tensor;
}

/** A parameter group's views (what one clip norm covers), named in the labels ("models.250"). */
export interface OptimizerGroup extends AdamState {
  label: string;
}

export class FlatOptimizer {
  /** Clip (one global norm, or per group), Adam, EMA: in order, for one command buffer. */
  readonly dispatches: Dispatch[] = [];
  /** (4) per clip group: the gradient norm before clipping, the scale applied, whether the step was
   *  skipped (the loss scale's overflow) and the loss scale it used (reduce.wgsl). */
  readonly clips: readonly Tensor[];
  private readonly adamSteps: ((step: number, lr?: number) => void)[] = [];
  /** Sets the EMA decay of the next step (EMA warmup); a queue write, no new dispatch. */
  readonly setEmaRate: (rate: number) => void;

  /** `groups` given: one clip norm per group; left out: one global norm over the whole state.
   *  `lossScale`: the gradients are scaled by its S, and a step it skips is skipped for every group. */
  constructor(device: GPUDevice, state: OptimizerState, readonly opt: OptimizerOptions, label: string, groups?: readonly OptimizerGroup[], lossScale?: LossScaleState) {
    const gs = groups ?? [{ ...state, label }];
    const norms = gradNormAndClip(device, { groups: gs, maxNorm: opt.gradClip, lossScale, label: `${label}.clip` });
    this.clips = norms.outs;
    this.dispatches.push(...norms.dispatches);
    gs.forEach((g, k) => {
      const adam = adamStep(device, {
        params: g.params, grads: g.grads, m: g.m, v: g.v, clip: this.clips[k]!,
        lr: opt.lr, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay, scaler: lossScale?.scaler, label: `${g.label}.adam`,
      });
      this.adamSteps.push(adam.setStep);
      this.dispatches.push(adam.dispatch);
    });
    const ema = emaUpdate(device, { ema: state.ema, params: state.params, rate: opt.emaRate, label: `${label}.ema` });
    this.setEmaRate = ema.setRate;
    this.dispatches.push(ema.dispatch);
  }

  /** Sets the (1-based) step for Adam's bias corrections and its learning rate (default: the planned one).
   *  With a loss scale, Adam's count leaves out the steps it skipped (adam.wgsl FLAG_SKIPS). */
  setStep(step: number, lr = this.opt.lr): void {
    for (const set of this.adamSteps) set(step, lr);
  }
}
