// Launcher for shaders/adam.wgsl: Adam and the weight EMA over the flat parameter buffers.
import code from '../../shaders/adam.wgsl?raw';
import { grid, makeDispatch, placeholder, type Dispatch, type KernelSource } from '../gpu/kernel';
import { createTensor, numel, upload, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'adam', code };
const WG = 256;
const FLAG_SKIPS = 1;

function flatSize(t: Tensor, label: string): number {
  const n = numel(t.shape);
  expectShape(t, [n], label);
  return n;
}

export interface AdamArgs {
  params: Tensor;  // (n) flat parameters, updated in place
  grads: Tensor;   // (n) flat raw gradients, read only
  m: Tensor;       // (n) first moment, zeros before step 1
  v: Tensor;       // (n) second moment, zeros before step 1
  clip: Tensor;    // (4) (norm, scale, skipped, loss scale) from gradNormAndClip: gradients are multiplied by clip[1]; a skipped step changes nothing
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** L2 penalty added to the gradient (torch Adam's weight_decay, not AdamW), 0 for none. */
  weightDecay: number;
  /** The dynamic loss scale's state (4) (reduce.wgsl: S, good steps, -, skipped steps), when steps
   *  may be skipped: Adam then counts only the steps it takes (adam.wgsl FLAG_SKIPS). */
  scaler?: Tensor;
  label: string;
}

export interface AdamStep {
  dispatch: Dispatch;
  /**
   * Sets the step number (from 1) that the next replay of `dispatch` applies. Only writes a small
   * buffer through the queue (no readback, no new dispatch), so call it before each step's submit.
   * `lr` overrides the planned learning rate for this step (warmup, schedules).
   */
  setStep(step: number, lr?: number): void;
}

/**
 * One Adam step as torch.optim.Adam. The step-dependent bias corrections cannot live in the uniform
 * block (makeDispatch owns that buffer), so they sit in a `${label}.step` tensor of 2 floats,
 * allocated here at plan time: (lr / (1 - beta1^step), sqrt(1 - beta2^step)), computed in float64;
 * with a scaler, (lr, step), and the kernel corrects for the steps taken (adam.wgsl FLAG_SKIPS).
 */
export function adamStep(device: GPUDevice, a: AdamArgs): AdamStep {
  const n = flatSize(a.params, a.label);
  for (const t of [a.grads, a.m, a.v]) expectShape(t, [n], a.label);
  expectShape(a.clip, [4], a.label);
  if (a.scaler) expectShape(a.scaler, [4], a.label);
  const step = createTensor(device, [2], `${a.label}.step`);
  const dispatch = makeDispatch(device, {
    shader, entry: 'adam', label: a.label,
    uniformStruct: 'AdamParams',
    uniforms: {
      n, one_minus_beta1: 1 - a.beta1, beta2: a.beta2, one_minus_beta2: 1 - a.beta2, eps: a.eps, weight_decay: a.weightDecay,
      beta1: a.beta1, flags: a.scaler ? FLAG_SKIPS : 0,
    },
    tensors: [[a.params, 'write'], [a.grads, 'read'], [a.m, 'write'], [a.v, 'write'], [a.clip, 'read'], [step, 'read'], [a.scaler ?? placeholder(device), 'read']],
    workgroups: grid(Math.ceil(n / WG)),
  });
  return {
    dispatch,
    setStep(k: number, lr = a.lr): void {
      if (!Number.isInteger(k) || k < 1) throw new Error(`${a.label}: Adam step=${k}, expected an integer >= 1`);
      upload(device, step, a.scaler ? Float32Array.of(lr, k) : Float32Array.of(lr / (1 - a.beta1 ** k), Math.sqrt(1 - a.beta2 ** k)));
    },
  };
}

export interface EmaArgs {
  ema: Tensor;     // (n) flat EMA of the parameters, updated in place
  params: Tensor;  // (n) flat parameters
  /** Decay per step (0.9999 in the reference config), until setRate changes it. */
  rate: number;
  label: string;
}

export interface EmaUpdate {
  dispatch: Dispatch;
  /** Sets the decay of the next updates (EMA warmup changes it every step); a queue write, no new dispatch. */
  setRate(rate: number): void;
}

/**
 * ema = rate * ema + (1 - rate) * params, as ema.mul_(rate).add_(p, alpha=1 - rate). The rate sits
 * in a `${label}.rate` tensor of 2 floats (rate, 1 - rate), allocated here at plan time.
 */
export function emaUpdate(device: GPUDevice, a: EmaArgs): EmaUpdate {
  const n = flatSize(a.ema, a.label);
  expectShape(a.params, [n], a.label);
  const rate = createTensor(device, [2], `${a.label}.rate`);
  const setRate = (r: number): void => {
    if (!(r >= 0 && r < 1)) throw new Error(`${a.label}: EMA rate ${r} is outside [0, 1)`);
    upload(device, rate, Float32Array.of(r, 1 - r));
  };
  setRate(a.rate);
  const dispatch = makeDispatch(device, {
    shader, entry: 'ema_update', label: a.label,
    uniformStruct: 'EmaParams',
    uniforms: { n },
    tensors: [[a.ema, 'write'], [a.params, 'read'], [rate, 'read']],
    workgroups: grid(Math.ceil(n / WG)),
  });
  return { dispatch, setRate };
}
