// Launcher for shaders/conv2d.wgsl: implicit-GEMM convolution, forward and backward.
import code from '../../shaders/conv2d.wgsl?raw';
import { makeDispatch, placeholder, type Dispatch, type KernelSource } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import { convOutSize, type ConvGeometry } from '../ref/conv2d';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'conv2d', code };
const TILE = 64;
const FLAG_BIAS = 1;
const FLAG_CHAN = 2;
const FLAG_RES = 4;
const FLAG_ACC = 8;

interface ConvDims {
  B: number; Ci: number; H: number; W: number; Co: number; OH: number; OW: number; K: number;
}

function dims(x: readonly number[], w: readonly number[], g: ConvGeometry, label: string): ConvDims {
  const [B, Ci, H, W] = x as [number, number, number, number];
  const [Co, wCi, K, K2] = w as [number, number, number, number];
  if (x.length !== 4 || w.length !== 4 || wCi !== Ci || K !== K2) {
    throw new Error(`${label}: conv2d input [${x}] does not fit weight [${w}]`);
  }
  const OH = convOutSize(H, K, g.stride, g.pad[0], g.pad[2]);
  const OW = convOutSize(W, K, g.stride, g.pad[1], g.pad[3]);
  return { B, Ci, H, W, Co, OH, OW, K };
}

function uniforms(d: ConvDims, g: ConvGeometry, flags: number): number[] {
  return [d.B, d.Ci, d.H, d.W, d.Co, d.OH, d.OW, g.pad[0], g.pad[1], flags];
}

/** Kernel size and stride are baked into the pipeline (WGSL overrides). */
function constants(d: ConvDims, g: ConvGeometry): Record<string, number> {
  return { KSIZE: d.K, STRIDE: g.stride };
}

function tiles(m: number, n: number): [number, number, number] {
  return [Math.ceil(n / TILE), Math.ceil(m / TILE), 1];
}

export interface Conv2dForwardArgs {
  x: Tensor;        // (B, Ci, H, W)
  w: Tensor;        // (Co, Ci, K, K)
  bias?: Tensor;    // (Co)
  chan?: Tensor;    // (B, Co): added per (sample, channel), the time-embedding projection
  residual?: Tensor; // (B, Co, OH, OW): added elementwise, the residual connection
  y: Tensor;        // (B, Co, OH, OW) =
  geometry: ConvGeometry;
  label: string;
}

export function conv2dForward(device: GPUDevice, a: Conv2dForwardArgs): Dispatch {
  const d = dims(a.x.shape, a.w.shape, a.geometry, a.label);
  expectShape(a.y, [d.B, d.Co, d.OH, d.OW], a.label);
  if (a.bias) expectShape(a.bias, [d.Co], a.label);
  if (a.chan) expectShape(a.chan, [d.B, d.Co], a.label);
  if (a.residual) expectShape(a.residual, [d.B, d.Co, d.OH, d.OW], a.label);
  const flags = (a.bias ? FLAG_BIAS : 0) | (a.chan ? FLAG_CHAN : 0) | (a.residual ? FLAG_RES : 0);
  const none = placeholder(device);
  return makeDispatch(device, {
    shader, entry: 'forward', label: a.label,
    uniforms: uniforms(d, a.geometry, flags),
    constants: constants(d, a.geometry),
    tensors: [[a.w, 'read'], [a.x, 'read'], [a.bias ?? none, 'read'], [a.chan ?? none, 'read'], [a.residual ?? none, 'read'], [a.y, 'write']],
    workgroups: tiles(d.Co, d.B * d.OH * d.OW),
  });
}

export interface Conv2dBackwardArgs {
  x: Tensor;   // forward input (B, Ci, H, W)
  w: Tensor;   // (Co, Ci, K, K)
  dy: Tensor;  // (B, Co, OH, OW)
  geometry: ConvGeometry;
  label: string;
}

/** dx = (or += with `accumulate`, where x fans out) the gradient wrt the input. */
export function conv2dBackwardInput(device: GPUDevice, a: Conv2dBackwardArgs & { dx: Tensor; accumulate?: boolean }): Dispatch {
  const d = dims(a.x.shape, a.w.shape, a.geometry, a.label);
  expectShape(a.dy, [d.B, d.Co, d.OH, d.OW], a.label);
  expectShape(a.dx, [d.B, d.Ci, d.H, d.W], a.label);
  return makeDispatch(device, {
    shader, entry: 'backward_input', label: `${a.label}.dx`,
    uniforms: uniforms(d, a.geometry, a.accumulate ? FLAG_ACC : 0),
    constants: constants(d, a.geometry),
    tensors: [[a.w, 'read'], [a.dy, 'read'], [a.dx, 'write']],
    workgroups: tiles(d.Ci, d.B * d.H * d.W),
  });
}

/** dw += and db += (parameter gradients accumulate; the trainer zeroes them per step). */
export function conv2dBackwardParams(device: GPUDevice, a: Conv2dBackwardArgs & { dw: Tensor; db?: Tensor }): Dispatch[] {
  const d = dims(a.x.shape, a.w.shape, a.geometry, a.label);
  expectShape(a.dy, [d.B, d.Co, d.OH, d.OW], a.label);
  expectShape(a.dw, a.w.shape, a.label);
  const out = [
    makeDispatch(device, {
      shader, entry: 'backward_weight', label: `${a.label}.dw`,
      uniforms: uniforms(d, a.geometry, 0),
      constants: constants(d, a.geometry),
      tensors: [[a.dy, 'read'], [a.x, 'read'], [a.dw, 'write']],
      workgroups: tiles(d.Co, d.Ci * d.K * d.K),
    }),
  ];
  if (a.db) {
    expectShape(a.db, [d.Co], a.label);
    out.push(makeDispatch(device, {
      shader, entry: 'backward_bias', label: `${a.label}.db`,
      uniforms: uniforms(d, a.geometry, 0),
      tensors: [[a.dy, 'read'], [a.db, 'write']],
      workgroups: [d.Co, 1, 1],
    }));
  }
  return out;
}

/** dchan[b, co] = sum over pixels of dy: the gradient of the forward's `chan` add. */
export function conv2dBackwardChan(device: GPUDevice, a: { dy: Tensor; dchan: Tensor; label: string }): Dispatch {
  const [B, Co, OH, OW] = a.dy.shape as [number, number, number, number];
  expectShape(a.dchan, [B, Co], a.label);
  return makeDispatch(device, {
    shader, entry: 'backward_chan', label: `${a.label}.dchan`,
    uniforms: [B, 0, 0, 0, Co, OH, OW, 0, 0, 0],
    tensors: [[a.dy, 'read'], [a.dchan, 'write']],
    workgroups: [B * Co, 1, 1],
  });
}
