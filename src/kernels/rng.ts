// Launcher for shaders/rng.wgsl: Philox4x32-10 uniform and Gaussian fills and dropout, the GPU twin of
// src/ref/rng.ts. (seed, offset) live in a 4-word GPU state tensor so that each step's numbers are one
// writeBuffer away from the same recorded dispatches; the stream is fixed per dispatch.
import code from '../../shaders/rng.wgsl?raw';
import { grid, makeDispatch, placeholder, type Dispatch, type KernelSource } from '../gpu/kernel';
import { createTensor, numel, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'rng', code };
const WG = 256;
const FLAG_ACC = 1;
const FLAG_NORM = 2;
const FLAG_NORM_SILU = 4;

function u32Arg(x: number, what: string, label: string): number {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new Error(`${label}: ${what}=${x}, expected an integer in [0, 2^32)`);
  return x;
}

/** A state tensor of 4 u32 words (seed, offset, 0, 0) under an f32 Tensor's shape [4]; zero until setRngState. */
export function createRngState(device: GPUDevice, label: string): Tensor {
  return createTensor(device, [4], label);
}

/** Selects the draw that the next submit of every dispatch bound to `state` makes (queue.writeBuffer). */
export function setRngState(device: GPUDevice, state: Tensor, seed: number, offset: number): void {
  expectShape(state, [4], state.label);
  const words = Uint32Array.of(u32Arg(seed, 'seed', state.label), u32Arg(offset, 'offset', state.label), 0, 0);
  device.queue.writeBuffer(state.buffer, state.offset, words);
}

interface DrawArgs {
  state: Tensor;   // (4) u32 from createRngState
  stream: number;  // second key word: distinct per use, so draws at one offset do not repeat
  label: string;
}

/** The dispatch of `entry` over its one output (the first written tensor; inputs were checked against
 *  it). hw is the plane size of a normalised dropout input (FLAG_NORM). */
function draw(device: GPUDevice, entry: string, a: DrawArgs, tensors: readonly (readonly [Tensor, 'read' | 'write'])[], p = 0, flags = 0, hw = 1): Dispatch {
  expectShape(a.state, [4], a.label);
  const output = tensors.findIndex(([, access]) => access === 'write');
  const n = numel(tensors[output]![0].shape);
  return makeDispatch(device, {
    shader, entry, label: a.label,
    uniforms: { n, stream: u32Arg(a.stream, 'stream', a.label), p, scale: 1 / (1 - p), flags, hw },
    tensors: [[a.state, 'read'], ...tensors],
    // dropout_f16 writes its output as f16 pairs; every other entry refuses an f16 tensor.
    packedF16: entry === 'dropout_f16' ? [output + 1] : [],
    workgroups: grid(Math.ceil(n / 4 / WG)),
  });
}

/** out = gaussian(seed, stream, offset, numel(out)) of src/ref/rng.ts. */
export function gaussianFill(device: GPUDevice, a: DrawArgs & { out: Tensor }): Dispatch {
  return draw(device, 'gaussian_fill', a, [[a.out, 'write']]);
}

/** out = uniform(seed, stream, offset, numel(out)) of src/ref/rng.ts, bit for bit. */
export function uniformFill(device: GPUDevice, a: DrawArgs & { out: Tensor }): Dispatch {
  return draw(device, 'uniform_fill', a, [[a.out, 'write']]);
}

/** The dropout entries' binding 4: a normalised input's GroupNorm table, or a placeholder. */
function tableBinding(device: GPUDevice, table?: Tensor): readonly [Tensor, 'read'] {
  return [table ?? placeholder(device), 'read'];
}

function dropoutP(p: number, label: string): number {
  if (!(p >= 0 && p < 1)) throw new Error(`${label}: dropout p=${p}, expected 0 <= p < 1`);
  return p;
}

/**
 * y = u >= p ? x / (1 - p) : 0, u = uniform(seed, stream, offset, n)[e]; the scale 1 / (1 - p) is
 * rounded to f32 once and multiplied (as torch's dropout does). Saves nothing. y may be stored as f16
 * pairs (dropout_f16), of an even number of elements. With `norm`, x is a GroupNorm's input and the
 * dropout's input its output (then SiLU), normalised as loaded with groupNormStatistics' table (B, C, 4).
 */
export function dropoutForward(device: GPUDevice, a: DrawArgs & { x: Tensor; y: Tensor; p: number; norm?: { table: Tensor; silu: boolean } }): Dispatch {
  expectShape(a.y, a.x.shape, a.label);
  const half = a.y.storage === 'f16';
  if (half && numel(a.y.shape) % 2 !== 0) throw new Error(`${a.label}: a dropout output stored as f16 needs an even number of values, [${a.y.shape}] has not`);
  let hw = 1;
  if (a.norm) {
    if (a.x.shape.length !== 4) throw new Error(`${a.label}: a normalised dropout input is (B, C, H, W), got [${a.x.shape}]`);
    const [B, C, H, W] = a.x.shape as [number, number, number, number];
    expectShape(a.norm.table, [B, C, 4], a.label);
    hw = H * W;
  }
  const flags = a.norm ? FLAG_NORM | (a.norm.silu ? FLAG_NORM_SILU : 0) : 0;
  return draw(device, half ? 'dropout_f16' : 'dropout', a, [[a.x, 'read'], [a.y, 'write'], tableBinding(device, a.norm?.table)], dropoutP(a.p, a.label), flags, hw);
}

/**
 * dx = (+= with `accumulate`) the forward's mask applied to dy, regenerated from the same state and
 * stream: the state must not change between a step's forward and backward.
 */
export function dropoutBackward(
  device: GPUDevice,
  a: DrawArgs & { dy: Tensor; dx: Tensor; p: number; accumulate: boolean },
): Dispatch {
  expectShape(a.dx, a.dy.shape, a.label);
  return draw(device, 'dropout', { ...a, label: `${a.label}.dx` }, [[a.dy, 'read'], [a.dx, 'write'], tableBinding(device)], dropoutP(a.p, a.label), a.accumulate ? FLAG_ACC : 0);
}
