// Launcher for shaders/elementwise.wgsl: channel concat, SiLU and in-place add, one thread per element.
import code from '../../shaders/elementwise.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import type { UniformValues } from '../gpu/uniforms';
import { numel, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'elementwise', code };
const WG = 256;
const FLAG_ACC = 1;

/** Uniforms of a (B, Ca, H, W) ++ b (B, Cb, H, W) = y (B, Ca+Cb, H, W) along channels. */
function concatUniforms(a: Tensor, b: Tensor, y: Tensor, flags: number, label: string): UniformValues {
  if (a.shape.length !== 4) throw new Error(`${label}: tensor "${a.label}" has shape [${a.shape}], expected (B, C, H, W)`);
  const [B, Ca, H, W] = a.shape as [number, number, number, number];
  const Cb = b.shape[1]!;
  expectShape(b, [B, Cb, H, W], label);
  expectShape(y, [B, Ca + Cb, H, W], label);
  return { n: numel(y.shape), flags, ca: Ca, cb: Cb, hw: H * W, alpha: 0 };
}

export interface ConcatForwardArgs {
  a: Tensor;   // (B, Ca, H, W)
  b: Tensor;   // (B, Cb, H, W)
  y: Tensor;   // (B, Ca+Cb, H, W) =
  label: string;
}

export function concatForward(device: GPUDevice, a: ConcatForwardArgs): Dispatch {
  return makeDispatch(device, {
    shader, entry: 'concat_forward', label: a.label,
    uniforms: concatUniforms(a.a, a.b, a.y, 0, a.label),
    tensors: [[a.a, 'read'], [a.b, 'read'], [a.y, 'write']],
    workgroups: grid(Math.ceil(numel(a.y.shape) / WG)),
  });
}

export interface ConcatBackwardArgs {
  dy: Tensor;  // (B, Ca+Cb, H, W)
  da: Tensor;  // (B, Ca, H, W) = (+= with accumulate)
  db: Tensor;  // (B, Cb, H, W) = (+= with accumulate)
  /** Both outputs +=: the UNet's skip tensors fan out, so their gradients are sums. */
  accumulate: boolean;
  label: string;
}

export function concatBackward(device: GPUDevice, a: ConcatBackwardArgs): Dispatch {
  return makeDispatch(device, {
    shader, entry: 'concat_backward', label: `${a.label}.dx`,
    uniforms: concatUniforms(a.da, a.db, a.dy, a.accumulate ? FLAG_ACC : 0, a.label),
    tensors: [[a.dy, 'read'], [a.da, 'write'], [a.db, 'write']],
    workgroups: grid(Math.ceil(numel(a.dy.shape) / WG)),
  });
}

function elementwise(device: GPUDevice, entry: string, n: number, flags: number, tensors: [Tensor, 'read' | 'write'][], label: string, alpha = 1): Dispatch {
  return makeDispatch(device, {
    shader, entry, label,
    uniforms: { n, flags, ca: 0, cb: 0, hw: 0, alpha }, // concat's fields unused here
    tensors,
    workgroups: grid(Math.ceil(n / WG)),
  });
}

/** y += alpha x with `accumulate` (same shape, alpha 1 by default); without, y = alpha x (the first
 *  writer of a gradient). */
export function addInto(device: GPUDevice, a: { x: Tensor; y: Tensor; alpha?: number; accumulate: boolean; label: string }): Dispatch {
  expectShape(a.y, a.x.shape, a.label);
  const flags = a.accumulate ? FLAG_ACC : 0;
  return elementwise(device, 'add_into', numel(a.x.shape), flags, [[a.x, 'read'], [a.y, 'write']], a.label, a.alpha ?? 1);
}
