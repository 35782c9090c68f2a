// Launcher for shaders/ideal.wgsl: the ideal denoiser's three passes (scores, softmax, posterior
// mean with its eps) for a batch of x_t over a data set.
import code from '../../shaders/ideal.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import { createTensor, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'ideal', code };

export interface IdealArgs {
  x: Tensor;        // (B, C, H, W) x_t
  t: Tensor;        // (B) timesteps
  abar: Tensor;     // (T) alpha-bar
  data: Tensor;     // (N, C, H, W) the data set
  x0: Tensor;       // (B, C, H, W) = the posterior mean
  eps: Tensor;      // (B, C, H, W) = (x - sqrt(abar) x0) / sqrt(1 - abar)
  label: string;
}

/** eps and x0 of the ideal denoiser; allocates its (B, N) scores and weights here, at plan time. */
export function idealDenoiser(device: GPUDevice, a: IdealArgs): Dispatch[] {
  const [B, ...image] = a.x.shape as [number, ...number[]];
  const N = a.data.shape[0]!;
  const D = image.reduce((p, q) => p * q, 1);
  expectShape(a.t, [B], a.label);
  expectShape(a.data, [N, ...image], a.label);
  for (const o of [a.x0, a.eps]) expectShape(o, a.x.shape, a.label);
  const scores = createTensor(device, [B, N], `${a.label}.scores`);
  const weights = createTensor(device, [B, N], `${a.label}.weights`);
  const uniforms = { batch: B, count: N, dim: D };
  return [
    makeDispatch(device, {
      shader, entry: 'scores', label: `${a.label}.scores`, uniforms, flops: 3 * B * N * D,
      tensors: [[a.x, 'read'], [a.t, 'read'], [a.abar, 'read'], [a.data, 'read'], [scores, 'write']],
      workgroups: grid(Math.ceil((B * N) / 256)),
    }),
    makeDispatch(device, {
      shader, entry: 'softmax', label: `${a.label}.softmax`, uniforms,
      tensors: [[scores, 'read'], [weights, 'write']],
      workgroups: grid(B),
    }),
    makeDispatch(device, {
      shader, entry: 'mean_eps', label: `${a.label}.mean`, uniforms, flops: 2 * B * N * D,
      tensors: [[a.x, 'read'], [a.t, 'read'], [a.abar, 'read'], [a.data, 'read'], [weights, 'read'], [a.x0, 'write'], [a.eps, 'write']],
      workgroups: grid(Math.ceil((B * D) / 256)),
    }),
  ];
}
