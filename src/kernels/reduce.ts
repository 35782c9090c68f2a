// Launcher for shaders/reduce.wgsl: global gradient norm and clip factor over the flat gradient buffer.
import code from '../../shaders/reduce.wgsl?raw';
import { grid, makeDispatch, placeholderSink, type Dispatch, type KernelSource } from '../gpu/kernel';
import { createTensor, numel, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'reduce', code };
const CHUNK = 4096; // elements per sumsq_partial workgroup (WG * PER_THREAD in the shader)
const FLAG_LOSS_SCALE = 1;

export interface GradNormArgs {
  grads: Tensor;    // (n) every gradient in one flat buffer, zeros between the views
  out: Tensor;      // (4) = (norm, scale, skipped, loss scale used)
  /** Clip threshold; <= 0 leaves scale at 1 (the norm is still computed, for logging). */
  maxNorm: number;
  /** The dynamic loss scale the gradients were computed with (reduce.wgsl FLAG_LOSS_SCALE): its
   *  state (4) = (S, good steps, -, skipped steps), updated by the step. */
  lossScale?: LossScaleState;
  label: string;
}

export interface LossScaleState {
  scaler: Tensor;
  /** Good steps in a row after which S doubles. */
  growthInterval: number;
}

/**
 * out = (sqrt(sum g^2), min(1, maxNorm / (norm + 1e-6))), as torch.nn.utils.clip_grad_norm_ computes
 * them; adamStep applies the scale. Allocates its scratch here, at plan time: a `${label}.partials`
 * tensor of ceil(n / 4096) floats.
 */
export function gradNormAndClip(device: GPUDevice, a: GradNormArgs): Dispatch[] {
  const n = numel(a.grads.shape);
  expectShape(a.grads, [n], a.label);
  expectShape(a.out, [4], a.label);
  if (a.lossScale) expectShape(a.lossScale.scaler, [4], a.label);
  const nparts = Math.ceil(n / CHUNK);
  const partials = createTensor(device, [nparts], `${a.label}.partials`);
  const uniforms = { n, nparts, max_norm: a.maxNorm, flags: a.lossScale ? FLAG_LOSS_SCALE : 0, growth_interval: a.lossScale?.growthInterval ?? 0 };
  return [
    makeDispatch(device, {
      shader, entry: 'sumsq_partial', label: `${a.label}.partial`, uniforms,
      tensors: [[a.grads, 'read'], [partials, 'write']],
      workgroups: grid(nparts),
    }),
    makeDispatch(device, {
      shader, entry: 'norm_clip', label: a.label, uniforms,
      tensors: [[partials, 'read'], [a.out, 'write'], [a.lossScale?.scaler ?? placeholderSink(device), 'write']],
      workgroups: [1, 1, 1],
    }),
  ];
}

export interface SumRowsArgs {
  src: Tensor;      // (rows, count): partial sums, one row per split or per sample
  out: Tensor;      // (count) +=; with out2, (count - n2) +=
  /** Where the last n2 columns' sums go (+=), when a row holds two reductions side by side. */
  out2?: Tensor;    // (n2)
  label: string;
}

/** out (and out2) += the sum of src's rows, in row order: the second stage of a split reduction. */
export function sumRowsInto(device: GPUDevice, a: SumRowsArgs): Dispatch {
  const [rows, count] = a.src.shape as [number, number];
  expectShape(a.src, [rows, count], a.label);
  const split = count - (a.out2 ? numel(a.out2.shape) : 0);
  expectShape(a.out, [split], a.label);
  return makeDispatch(device, {
    shader, entry: 'sum_rows', label: `${a.label}.sum_rows`,
    uniformStruct: 'RowParams',
    uniforms: { rows, count, split },
    tensors: [[a.src, 'read'], [a.out, 'write'], [a.out2 ?? placeholderSink(device), 'write']],
    workgroups: grid(Math.ceil(count / 256)),
  });
}
