// Launcher for shaders/timestep.wgsl: the sinusoidal timestep embedding, alone or with the time-embedding MLP.
import code from '../../shaders/timestep.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import { sharedOutsideOwners, uncountedPlaceholder } from '../gpu/owner';
import { createTensorFrom, spanOf, type Tensor } from '../gpu/tensor';
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

/** timestep.wgsl embed_mlp's workgroup arrays: the embedding's width and the MLP's hidden width. */
const MLP_DIM_MAX = 256;
const MLP_HID_MAX = 1024;

/** Whether embed_mlp holds an MLP of embedding width `dim` and hidden width `hid` (else the UNet runs
 *  the embedding and each dense layer as dispatches of their own). */
export function fusesTimeEmbeddingMlp(dim: number, hid: number): boolean {
  return dim <= MLP_DIM_MAX && hid <= MLP_HID_MAX;
}

export interface TimeEmbeddingMlpArgs extends TimestepEmbeddingArgs {
  /** temb.dense.0 (hid, dim) and (hid), temb.dense.1 (hid, hid) and (hid): views of one buffer. */
  w0: Tensor;
  b0: Tensor;
  w1: Tensor;
  b1: Tensor;
  h: Tensor;      // (B, hid) = b0 + w0 y
  temb: Tensor;   // (B, hid) = b1 + w1 silu(h)
}

/** The embedding and both dense layers of the time-embedding MLP in one dispatch, one workgroup per
 *  sample; the same bits as timestepEmbedding and two linear.wgsl forwards. */
export function timeEmbeddingMlp(device: GPUDevice, a: TimeEmbeddingMlpArgs): Dispatch {
  if (a.t.shape.length !== 1) throw new Error(`${a.label}: timesteps "${a.t.label}" have shape [${a.t.shape}], expected (B)`);
  const B = a.t.shape[0]!;
  const dim = a.y.shape[1]!;
  const hid = a.w0.shape[0]!;
  if (!fusesTimeEmbeddingMlp(dim, hid)) throw new Error(`${a.label}: an MLP of width ${dim} -> ${hid} exceeds embed_mlp's ${MLP_DIM_MAX} -> ${MLP_HID_MAX}`);
  expectShape(a.y, [B, dim], a.label);
  expectShape(a.w0, [hid, dim], a.label);
  expectShape(a.w1, [hid, hid], a.label);
  for (const t of [a.b0, a.b1]) expectShape(t, [hid], a.label);
  for (const t of [a.h, a.temb]) expectShape(t, [B, hid], a.label);
  const freq = frequencyTensor(device, dim);
  const { span, offsets } = spanOf([a.w0, a.b0, a.w1, a.b1], `${a.label}.params`);
  const [w0, b0, w1, b1] = offsets as [number, number, number, number];
  return makeDispatch(device, {
    shader, entry: 'embed_mlp', label: a.label, uniformStruct: 'MlpParams',
    uniforms: { dim, half: freq.shape[0]!, hid, w0, b0, w1, b1 },
    tensors: [[a.t, 'read'], [freq, 'read'], [a.y, 'write'], [span, 'read'], [a.h, 'write'], [a.temb, 'write']],
    workgroups: [B, 1, 1],
    flops: 2 * B * hid * (dim + hid),
  });
}
