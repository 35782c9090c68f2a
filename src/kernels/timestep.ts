// Launcher for shaders/timestep.wgsl: the sinusoidal timestep embedding.
import code from '../../shaders/timestep.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import { sharedOutsideOwners, uncountedPlaceholder } from '../gpu/owner';
import { createTensorFrom, type Tensor } from '../gpu/tensor';
import { timestepFrequencies } from '../host/layers';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'timestep', code };
const WG = 64;

// The frequencies are computed on the host exactly as the reference does (float32, as PyTorch) and
// uploaded once per device and dim: every plan of that embedding shares the tensor, which therefore
// belongs to no plan (gpu/owner.ts).
const frequencies = new WeakMap<GPUDevice, Map<number, Tensor>>();

function frequencyTensor(device: GPUDevice, dim: number): Tensor {
  let byDim = frequencies.get(device);
  if (!byDim) frequencies.set(device, (byDim = new Map()));
  let t = byDim.get(dim);
  if (!t) {
    const freq = timestepFrequencies(dim);
    const label = `timestep.freq${dim}`;
    const shared = sharedOutsideOwners(() => createTensorFrom(device, [freq.length], freq, label));
    if (!shared) return { buffer: uncountedPlaceholder(freq.length * 4, label), offset: 0, shape: [freq.length], label };
    t = shared;
    byDim.set(dim, t);
  }
  return t;
}

export interface TimestepEmbeddingArgs {
  t: Tensor;   // (B) float timesteps
  y: Tensor;   // (B, dim) = [sin(t freq), cos(t freq)] (+ a zero column for odd dim)
  label: string;
}

export function timestepEmbedding(device: GPUDevice, a: TimestepEmbeddingArgs): Dispatch {
  if (a.t.shape.length !== 1) throw new Error(`${a.label}: timesteps "${a.t.label}" have shape [${a.t.shape}], expected (B)`);
  const B = a.t.shape[0]!;
  const dim = a.y.shape[1]!;
  expectShape(a.y, [B, dim], a.label);
  const freq = frequencyTensor(device, dim);
  return makeDispatch(device, {
    shader, entry: 'forward', label: a.label,
    uniforms: { n: B * dim, dim, half: freq.shape[0]! },
    tensors: [[a.t, 'read'], [freq, 'read'], [a.y, 'write']],
    workgroups: grid(Math.ceil((B * dim) / WG)),
  });
}
