// Launcher for shaders/loss.wgsl: q(x_t | x_0), the DDPM loss and its gradient.
import code from '../../shaders/loss.wgsl?raw';
import { grid, makeDispatch, placeholder, type Dispatch, type KernelSource } from '../gpu/kernel';
import type { UniformValues } from '../gpu/uniforms';
import { createTensor, numel, upload, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'loss', code };
const WG = 256;
const CHUNK = 4096; // elements per loss_partial workgroup (WG * PER_THREAD in the shader)

function uniforms(x: Tensor, nparts: number, label: string, weight = 1, scaled = false): UniformValues & { n: number } {
  const [B, ...rest] = x.shape;
  if (x.shape.length !== 4 || !B) throw new Error(`${label}: tensor "${x.label}" has shape [${x.shape}], expected (B, C, H, W)`);
  return { n: numel(x.shape), per: numel(rest), nparts, inv_batch: 1 / B, weight, scaled: scaled ? 1 : 0 };
}

export interface QSampleArgs {
  x0: Tensor;     // (B, C, H, W)
  noise: Tensor;  // (B, C, H, W)
  coef: Tensor;   // (B, 2): (sqrt(abar_t), sqrt(1 - abar_t)) per sample
  xt: Tensor;     // (B, C, H, W) =
  label: string;
}

/** xt = coef[b, 0] x0 + coef[b, 1] noise. */
export function qSample(device: GPUDevice, a: QSampleArgs): Dispatch {
  const u = uniforms(a.x0, 0, a.label);
  expectShape(a.noise, a.x0.shape, a.label);
  expectShape(a.xt, a.x0.shape, a.label);
  expectShape(a.coef, [a.x0.shape[0]!, 2], a.label);
  return makeDispatch(device, {
    shader, entry: 'q_sample', label: a.label, uniforms: u,
    tensors: [[a.x0, 'read'], [a.noise, 'read'], [a.coef, 'read'], [a.xt, 'write']],
    workgroups: grid(Math.ceil(u.n / WG)),
  });
}

export interface LossArgs {
  eps: Tensor;      // (B, C, H, W) model output
  noise: Tensor;    // (B, C, H, W) the noise that made x_t
  /** (B): each sample's loss weight (ones for the reference's unweighted loss). */
  weights: Tensor;
  label: string;
}

/** Loss weights of the reference's unweighted loss: a (B) tensor of ones. */
export function unitLossWeights(device: GPUDevice, batch: number, label: string): Tensor {
  const w = createTensor(device, [batch], label);
  upload(device, w, new Float32Array(batch).fill(1));
  return w;
}

function checkLossArgs(a: LossArgs): void {
  expectShape(a.noise, a.eps.shape, a.label);
  expectShape(a.weights, [a.eps.shape[0]!], a.label);
}

/**
 * loss[0] = (1/B) sum_b weights[b] sum_chw (noise - eps)^2, summed in a fixed order. Allocates its scratch here, at plan
 * time: a `${label}.partials` tensor of ceil(n / 4096) floats, one per workgroup of the first pass.
 */
export function ddpmLossForward(device: GPUDevice, a: LossArgs & { loss: Tensor }): Dispatch[] {
  checkLossArgs(a);
  expectShape(a.loss, [1], a.label);
  const nparts = Math.ceil(numel(a.eps.shape) / CHUNK);
  const u = uniforms(a.eps, nparts, a.label);
  const partials = createTensor(device, [nparts], `${a.label}.partials`);
  return [
    makeDispatch(device, {
      shader, entry: 'loss_partial', label: `${a.label}.partial`, uniforms: u,
      tensors: [[a.eps, 'read'], [a.noise, 'read'], [a.weights, 'read'], [partials, 'write']],
      workgroups: grid(nparts),
    }),
    makeDispatch(device, {
      shader, entry: 'loss_final', label: a.label, uniforms: u,
      tensors: [[partials, 'read'], [a.loss, 'write']],
      workgroups: [1, 1, 1],
    }),
  ];
}

/** deps = weight * weights[b] * 2 (eps - noise) / B, d loss / d eps (weight default 1: a weighted sum
 *  of losses back-propagates each with its weight), times the loss scale scaler[0] when a (4) scaler
 *  is given (kernels/reduce.ts LossScaleState). */
export function ddpmLossBackward(device: GPUDevice, a: LossArgs & { deps: Tensor; weight?: number; scaler?: Tensor }): Dispatch {
  checkLossArgs(a);
  expectShape(a.deps, a.eps.shape, a.label);
  if (a.scaler) expectShape(a.scaler, [4], a.label);
  const u = uniforms(a.eps, 0, a.label, a.weight, a.scaler !== undefined);
  return makeDispatch(device, {
    shader, entry: 'loss_backward', label: `${a.label}.deps`, uniforms: u,
    tensors: [[a.eps, 'read'], [a.noise, 'read'], [a.weights, 'read'], [a.deps, 'write'], [a.scaler ?? placeholder(device), 'read']],
    workgroups: grid(Math.ceil(u.n / WG)),
  });
}
