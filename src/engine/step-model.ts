// What a chain steps with: eps(x_t, t) on the GPU for a batch, whatever computes it. One interface
// for the three families a chain can run on, so the one Sampler, the research experiments and the
// page's tabs take any of them:
//   a time-conditioned UNet     one plan, t written into its t tensor;
//   a layered model             one time-free UNet per timestep of its fixed chain, all reading x
//                               (research/layered-model.ts);
//   the ideal denoiser          the posterior mean under a data set (engine/ideal.ts).
import type { Dispatch } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import type { UNet } from '../nn/unet';

export interface StepModel {
  readonly kind: 'unet' | 'layered' | 'ideal';
  /** x_t (N, C, H, W), written by the caller (the sampler's chain), read by every evaluation. */
  readonly x: Tensor;
  /** The per-sample timestep (N) the model reads, written by the caller; null when t selects a network instead. */
  readonly t: Tensor | null;
  /** Trained parameters (0 for the ideal denoiser). */
  readonly parameters: number;
  /** eps at timestep t: the dispatches that compute it from x (and t), and where it lands (N, C, H, W). */
  at(t: number): { forward: Dispatch[]; eps: Tensor };
  /** Frees what this model allocated (not parameters it was given). */
  destroy(): void;
}

/** A time-conditioned UNet plan as a step model (its own x, t and eps); destroy() frees the plan. */
export function unetStepModel(net: UNet): StepModel {
  const step = { forward: net.forward, eps: net.eps };
  return { kind: 'unet', x: net.x, t: net.t, parameters: net.layout.count, at: () => step, destroy: () => net.destroy() };
}
