// Launcher for shaders/elementwise.wgsl: in-place add, one thread per element.
import code from '../../shaders/elementwise.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import { numel, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'elementwise', code };
const WG = 256;
const FLAG_ACC = 1;

function elementwise(device: GPUDevice, entry: string, n: number, flags: number, tensors: [Tensor, 'read' | 'write'][], label: string, alpha = 1): Dispatch {
  return makeDispatch(device, {
    shader, entry, label,
    uniforms: { n, flags, alpha },
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
