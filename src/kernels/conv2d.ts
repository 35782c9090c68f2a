// Launcher for shaders/conv2d.wgsl: implicit-GEMM convolution, forward and backward.
import code from '../../shaders/conv2d.wgsl?raw';
import { grid, makeDispatch, placeholder, placeholderSink, type Dispatch, type KernelSource } from '../gpu/kernel';
import type { UniformValues } from '../gpu/uniforms';
import { numel, reshape, spanOf, type Tensor, type TensorStorage } from '../gpu/tensor';
import { convOutSize, type ConvGeometry } from '../host/layers';
import type { RowSums } from './reduce';
import { expectShape } from './shapes';
import { GEMM_DEFAULT_TILE, GEMM_K_SLICE, gemmConstants, gemmLaunch, gemmLibrary, gemmOperandsExact, gemmThreads, gemmTileOn, gemmWorkgroups, SMALL_TILE_MAX_WORKGROUPS, type GemmShape } from './gemm';

/** conv2d.wgsl with its input x (binding 2) as f32, or as f16 pairs (u32 words); and x_value, a
 *  load's last step: the value itself, or (FLAG_NORM) its GroupNorm with the table at binding 9. */
const X_DECLARATIONS: Record<TensorStorage, string> = {
  f32: '@group(0) @binding(2) var<storage, read> in_x: array<f32>;\nfn in_x_at(i: u32) -> f32 { return in_x[i]; }',
  f16: '@group(0) @binding(2) var<storage, read> in_x: array<u32>;\nfn in_x_at(i: u32) -> f32 { return f16_element(in_x[i >> 1u], i); }',
};
const AS_LOADED = 'fn x_value(b: u32, ci: u32, v: f32) -> f32 { return v; }';
const NORMALISED = [
  '@group(0) @binding(9) var<storage, read> norm_table: array<vec4f>;',
  'fn x_value(b: u32, ci: u32, v: f32) -> f32 { return group_norm_value(norm_table[b * P.cin + ci], v, (P.flags & FLAG_NORM_SILU) != 0u); }',
].join('\n');
export const CONV2D_SOURCES: Readonly<Record<TensorStorage | 'normalised', KernelSource>> = {
  f32: { name: 'conv2d', code, library: gemmLibrary, declarations: { key: '', code: `${X_DECLARATIONS.f32}\n${AS_LOADED}` } },
  f16: { name: 'conv2d', code, library: gemmLibrary, declarations: { key: 'x16', code: `${X_DECLARATIONS.f16}\n${AS_LOADED}` } },
  normalised: { name: 'conv2d', code, library: gemmLibrary, declarations: { key: 'norm', code: `${X_DECLARATIONS.f32}\n${NORMALISED}` } },
};
const shader = CONV2D_SOURCES.f32;

/** A convolution's input normalised as it is loaded (conv2d.wgsl FLAG_NORM): the GroupNorm (then
 *  SiLU) of x, with the table (B, Ci) of (mean, rstd, gamma, beta) that groupNormStatistics wrote. */
export interface ConvInputNorm {
  table: Tensor;    // (B, Ci, 4)
  silu: boolean;
}

/** Storage bindings a convolution with a normalised input binds: one more than the others (the
 *  table), which adapters at WebGPU's default limit of 8 do not have. */
const NORMALISED_BINDINGS = 9;

/** Whether this device can run convolutions that normalise their input as they load it. */
export function conv2dCanNormaliseInput(device: GPUDevice): boolean {
  return device.limits.maxStorageBuffersPerShaderStage >= NORMALISED_BINDINGS;
}

/** Refuses, naming the limit, where this device cannot normalise on load (`what` does it). */
function expectNormalisingBindings(device: GPUDevice, what: string): void {
  if (!conv2dCanNormaliseInput(device)) throw new Error(`${what} needs ${NORMALISED_BINDINGS} storage buffers per shader stage; this adapter allows ${device.limits.maxStorageBuffersPerShaderStage}`);
}

const forcedNormalise = new WeakMap<GPUDevice, boolean>();

/** Makes plans on `device` from now on normalise GroupNorm outputs on load, or write them (undefined:
 *  the default again), to measure both on whole models (`ddim bench --norm-on-load`). */
export function forceNormaliseOnLoad(device: GPUDevice, on: boolean | undefined): void {
  if (on) expectNormalisingBindings(device, 'normalising on load');
  if (on === undefined) forcedNormalise.delete(device);
  else forcedNormalise.set(device, on);
}

/** Whether a plan on `device` normalises the GroupNorm outputs that convolutions read as they load
 *  them (nn/unet.ts UNetOptions.normaliseOnLoad's default): wherever the adapter can, unless forced. */
export function conv2dNormalisesOnLoad(device: GPUDevice): boolean {
  return forcedNormalise.get(device) ?? conv2dCanNormaliseInput(device);
}

/** The module for a convolution of x (normalised as loaded with `norm`), and the binding that reads x
 *  (tensors[1]) as f16 pairs where x is stored so. A two-part input's first part is f32 (a
 *  concatenation is never a GroupNorm's output), and so is a normalised one (a GroupNorm's input). */
function forInput(device: GPUDevice, x: Tensor, x2: Tensor | undefined, norm: ConvInputNorm | undefined, label: string): { shader: KernelSource; packedF16: number[] } {
  if (norm) {
    expectNormalisingBindings(device, `${label}: a convolution that normalises its input`);
    if (x.storage === 'f16') throw new Error(`${label}: a normalised convolution input is f32; ${x.label} is stored as f16`);
    expectShape(norm.table, [x.shape[0]!, convInputShape(x.shape, false, x2?.shape)[1]!, 4], label);
    return { shader: CONV2D_SOURCES.normalised, packedF16: [] };
  }
  if (x.storage !== 'f16') return { shader, packedF16: [] };
  if (x2) throw new Error(`${label}: a two-part convolution input is f32; ${x.label} is stored as f16`);
  return { shader: CONV2D_SOURCES.f16, packedF16: [1] };
}

/** The table binding of a normalised input (binding 9), or none. */
function normBinding(norm: ConvInputNorm | undefined): [Tensor, 'read'][] {
  return norm ? [[norm.table, 'read']] : [];
}

function normFlags(norm: ConvInputNorm | undefined): number {
  return norm ? FLAG_NORM | (norm.silu ? FLAG_NORM_SILU : 0) : 0;
}
const FLAG_BIAS = 1;
const FLAG_CHAN = 2;
const FLAG_RES = 4;
const FLAG_ACC = 8;
const FLAG_UP2 = 16;
const FLAG_SHORTCUT = 32;
const FLAG_DB = 64;
const FLAG_NORM = 128;
const FLAG_NORM_SILU = 256;
/** Threads per plane sum (conv2d.wgsl PLANE_LANES). */
const PLANE_LANES = 64;

/** The input a convolution sees: x itself, or with `upsample` its nearest 2x upsampling (B, C, 2H, 2W);
 *  with x2, x and x2 concatenated along channels (read in place, never written out). */
export function convInputShape(x: readonly number[], upsample = false, x2?: readonly number[]): number[] {
  const [B, C, H, W] = x as [number, number, number, number];
  const Ci = C + (x2 ? x2[1]! : 0);
  if (x2) expectSameShape(x2, [B, x2[1]!, H, W], 'the second part of a two-part convolution input');
  return upsample ? [B, Ci, 2 * H, 2 * W] : [B, Ci, H, W];
}

function expectSameShape(got: readonly number[], want: readonly number[], what: string): void {
  if (got.length !== want.length || got.some((v, i) => v !== want[i])) throw new Error(`conv2d: ${what} has shape [${got}], expected [${want}]`);
}

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

/** The fusions' places in their spans: stacked convolutions (forward: weights, biases, outputs; backward:
 *  weights, output gradients, dw and db in the gradients' span, and the plane sums) and a 1x1
 *  shortcut (forward). */
interface Fusion {
  groups: number; y_gstride: number; w_off: number; w_gstride: number; b_off: number; b_gstride: number;
  sc_cin: number; sc_w_off: number; sc_b_off: number; sc_ca: number; plane_gstride: number;
}

const UNFUSED: Fusion = { groups: 1, y_gstride: 0, w_off: 0, w_gstride: 0, b_off: 0, b_gstride: 0, sc_cin: 0, sc_w_off: 0, sc_b_off: 0, sc_ca: 0, plane_gstride: 0 };

/** `ca`: channels of the input's first part (all of them unless it has two). */
function uniforms(d: ConvDims, g: ConvGeometry, flags: number, split: WeightGradSplit = unsplit(0), fusion = UNFUSED, ca = d.Ci,
  tiles = { input_tiles: 0, weight_tiles: 0, plane_groups: 0 }): UniformValues {
  return {
    batch: d.B, cin: d.Ci, h: d.H, w: d.W, cout: d.Co, oh: d.OH, ow: d.OW, pad_t: g.pad[0], pad_l: g.pad[1], flags,
    k_chunk: split.kChunk, splits: split.splits, ...fusion, ca, ...tiles,
  };
}

/** Binding 4: the second part of a two-part input, or a placeholder. */
function secondPart(device: GPUDevice, x2: Tensor | undefined): [Tensor, 'read'] {
  return [x2 ?? placeholder(device), 'read'];
}

/** The common distance between consecutive offsets (0 for one); the stacked kernel indexes by it. */
function regularStride(offsets: readonly number[], what: string, label: string): number {
  const stride = offsets.length > 1 ? offsets[1]! - offsets[0]! : 0;
  if (offsets.some((o, i) => o !== offsets[0]! + i * stride) || stride < 0) {
    throw new Error(`${label}: stacked convolutions need their ${what} at one regular stride in one buffer, got offsets ${offsets.join(', ')}`);
  }
  return stride;
}

/** Kernel size, stride and the GEMM's tile are baked into the pipeline (WGSL overrides). */
function launch(device: GPUDevice, d: ConvDims, g: ConvGeometry, m: number, n: number, z: number) {
  const l = gemmLaunch(device, m, n, z);
  return { constants: { KSIZE: d.K, STRIDE: g.stride, ...l.constants }, workgroups: l.workgroups };
}

// ---- split-K for the weight gradient ---------------------------------------------------------------
// The dW GEMM has M = Co, N = Ci*K*K (a few dozen 64x64 tiles) and K = B*OH*OW (16,384 at batch 64,
// 16 px): unsplit, a large GPU would run a few dozen workgroups each looping over the whole batch.
// Splitting K into S slices gives S times the workgroups, at the cost of S partial dW copies and a
// summing pass: the copies are takes of a RowSums (takeInTurn), whose one dispatch sums the copies of
// every convolution whose backward ran since the last (as many as SPLIT_SCRATCH_BYTES holds).

/** Workgroups a dW GEMM should have to fill a large GPU (an H100/H200 has 132-144 SMs; 4 per SM). */
export const SPLIT_TARGET_WORKGROUPS = 512;
/** Fewest reduction indices per slice: below this the partial sums cost more than the split wins. */
export const SPLIT_MIN_K = 256;
/** The buffer of partial dW copies awaiting their sum, at most (and at most the adapter's binding
 *  limit): it bounds one convolution's split, and how many convolutions' copies one dispatch sums. */
export const SPLIT_SCRATCH_BYTES = 32 * 2 ** 20;

/** The floats of SPLIT_SCRATCH_BYTES this adapter can bind. */
function splitBudgetFloats(limits: { maxStorageBufferBindingSize: number }): number {
  return Math.floor(Math.min(SPLIT_SCRATCH_BYTES, limits.maxStorageBufferBindingSize) / 4);
}

/** The floats of the RowSums that holds the split weight gradients' partial copies of a backward,
 *  given the floats all of them take and the largest (RowSums.floats of each): all of them where they
 *  fit in the budget (one summing dispatch), else the budget (one per filling). */
export function splitSumsFloats(all: number, largest: number, limits: { maxStorageBufferBindingSize: number }): number {
  return Math.min(all, Math.max(largest, splitBudgetFloats(limits)));
}

export interface WeightGradSplit {
  /** Slices of the reduction axis (1: no split, dW accumulates directly). */
  splits: number;
  /** Reduction indices per slice, a multiple of the GEMM's K tile (16). */
  kChunk: number;
  /** Scratch floats the partial copies need (0 with one split). */
  scratchFloats: number;
}

/** One slice of K reduction indices: dW accumulates directly, no scratch. */
function unsplit(K: number): WeightGradSplit {
  return { splits: 1, kChunk: K, scratchFloats: 0 };
}

/** How to split the weight-gradient GEMM of a convolution (input shape x, weight shape w): from the
 *  shape, the workgroup target and the scratch budget (bounded by the adapter's binding limit). */
export function weightGradSplit(x: readonly number[], w: readonly number[], g: ConvGeometry, limits: { maxStorageBufferBindingSize: number }): WeightGradSplit {
  const d = dims(x, w, g, 'weightGradSplit');
  const M = d.Co, N = d.Ci * d.K * d.K, K = d.B * d.OH * d.OW;
  const tiles = gemmWorkgroups([{ m: M, n: N, z: 1 }], GEMM_DEFAULT_TILE);
  const budget = splitBudgetFloats(limits);
  const want = Math.min(Math.ceil(SPLIT_TARGET_WORKGROUPS / tiles), Math.floor(K / SPLIT_MIN_K), Math.floor(budget / (M * N)));
  return sliceReduction(weightGradOutputs(w), K, want);
}

/** The values one slice of a weight gradient writes: dW (Co, Ci, K, K) and db (Co), the GEMM's
 *  extra column (FLAG_DB). */
export function weightGradOutputs(w: readonly number[]): number {
  return w[0]! * (w[1]! * w[2]! * w[3]! + 1);
}

/** K reduction indices in about `want` slices of a multiple of the K tile (16) each, for a dW and db
 *  of `outputs` values (weightGradOutputs: one partial copy of them per slice). */
export function sliceReduction(outputs: number, K: number, want: number): WeightGradSplit {
  if (want <= 1) return unsplit(K);
  const kChunk = Math.ceil(K / want / GEMM_K_SLICE) * GEMM_K_SLICE;
  const splits = Math.ceil(K / kChunk);
  return splits === 1 ? unsplit(K) : { splits, kChunk, scratchFloats: splits * outputs };
}

/** 2 M N K of the convolution as a GEMM (the same for its three GEMMs; stride 2's backward_input
 *  gathers zeros that are not counted). */
function gemmFlops(d: ConvDims): number {
  return 2 * d.Co * d.B * d.OH * d.OW * d.Ci * d.K * d.K;
}

export interface Conv2dForwardArgs {
  x: Tensor;        // (B, Ci, H, W), or (B, Ci, H/2, W/2) with upsample; with x2 its first channels
  /** The input's remaining channels, read in place (x and x2 concatenated): with `norm` only (the up
   *  path's norm1 of a skip concatenation). */
  x2?: Tensor;
  /** Convolve the GroupNorm (then SiLU) of x, normalised as it is loaded (never written out). */
  norm?: ConvInputNorm;
  /** Convolve x's nearest 2x upsampling, read on the fly (the UNet's upsample + conv). */
  upsample?: boolean;
  w: Tensor;        // (Co, Ci, K, K)
  bias?: Tensor;    // (Co)
  chan?: Tensor;    // (B, Co): added per (sample, channel), the time-embedding projection
  residual?: Tensor; // (B, Co, OH, OW): added elementwise, the residual connection
  y: Tensor;        // (B, Co, OH, OW) =
  /** More convolutions of the same x with w's shape, in the same GEMM (the attention's k and v after
   *  q): each writes its own y. The ws (with w), the biases (with bias) and the ys (with y) must each
   *  lie in one buffer at one regular stride: views of the flat parameters and of one activation. */
  stacked?: readonly { w: Tensor; bias: Tensor; y: Tensor }[];
  /** y += the 1x1 convolution of another input x (B, Ci', OH, OW) with w (Co, Ci', 1, 1) and bias, in
   *  the same GEMM (the ResBlock's nin_shortcut). w and bias must share w's and bias's buffers. With
   *  x2, the input is x and x2 concatenated along channels (the up path's skip concatenation). */
  shortcut?: { x: Tensor; x2?: Tensor; w: Tensor; bias: Tensor };
  geometry: ConvGeometry;
  label: string;
}

export function conv2dForward(device: GPUDevice, a: Conv2dForwardArgs): Dispatch {
  const d = dims(convInputShape(a.x.shape, a.upsample, a.x2?.shape), a.w.shape, a.geometry, a.label);
  if (a.x2 && !a.norm) throw new Error(`${a.label}: a two-part convolution input is read in the forward only when normalised`);
  if (a.norm && a.upsample) throw new Error(`${a.label}: a normalised convolution input is not upsampled`);
  expectShape(a.y, [d.B, d.Co, d.OH, d.OW], a.label);
  if (a.bias) expectShape(a.bias, [d.Co], a.label);
  if (a.chan) expectShape(a.chan, [d.B, d.Co], a.label);
  if (a.residual) expectShape(a.residual, [d.B, d.Co, d.OH, d.OW], a.label);
  const stacked = a.stacked ?? [];
  const sc = a.shortcut;
  if (stacked.length > 0 && (!a.bias || a.chan || a.residual || sc || d.K !== 1)) {
    throw new Error(`${a.label}: stacked convolutions are 1x1 with biases and no chan, residual or shortcut`);
  }
  for (const s of stacked) {
    expectShape(s.w, a.w.shape, a.label);
    expectShape(s.bias, [d.Co], a.label);
    expectShape(s.y, a.y.shape, a.label);
  }
  const ws = spanOf([a.w, ...stacked.map((s) => s.w), ...(sc ? [sc.w] : [])], `${a.label}.weights`);
  const bs = a.bias ? spanOf([a.bias, ...stacked.map((s) => s.bias), ...(sc ? [sc.bias] : [])], `${a.label}.biases`) : null;
  const ys = spanOf([a.y, ...stacked.map((s) => s.y)], `${a.label}.outputs`);
  const G = 1 + stacked.length;
  const fusion: Fusion = {
    ...UNFUSED,
    groups: G,
    y_gstride: regularStride(ys.offsets, 'outputs', a.label),
    w_off: ws.offsets[0]!,
    w_gstride: regularStride(ws.offsets.slice(0, G), 'weights', a.label),
    b_off: bs?.offsets[0] ?? 0,
    b_gstride: bs ? regularStride(bs.offsets.slice(0, G), 'biases', a.label) : 0,
  };
  if (sc) {
    const Cs = convInputShape(sc.x.shape, false, sc.x2?.shape)[1]!;
    if (!a.bias || a.geometry.stride !== 1 || a.upsample) throw new Error(`${a.label}: a fused shortcut needs a bias and a stride-1 convolution of x itself`);
    expectShape(sc.x, [d.B, sc.x.shape[1]!, d.OH, d.OW], a.label);
    expectShape(sc.w, [d.Co, Cs, 1, 1], a.label);
    expectShape(sc.bias, [d.Co], a.label);
    if (sc.x2 && a.x2) throw new Error(`${a.label}: a convolution input and its fused shortcut's input cannot both have two parts (one binding holds the second part)`);
    Object.assign(fusion, { sc_cin: Cs, sc_w_off: ws.offsets[G]!, sc_b_off: bs!.offsets[G]!, sc_ca: sc.x.shape[1]! });
  }
  const flags = (a.bias ? FLAG_BIAS : 0) | (a.chan ? FLAG_CHAN : 0) | (a.residual ? FLAG_RES : 0) | (a.upsample ? FLAG_UP2 : 0) | (sc ? FLAG_SHORTCUT : 0) |
    normFlags(a.norm);
  const none = placeholder(device);
  const outputs = d.B * d.OH * d.OW;
  return makeDispatch(device, {
    ...forInput(device, a.x, a.x2, a.norm, a.label), entry: 'forward', label: a.label,
    uniforms: uniforms(d, a.geometry, flags, unsplit(0), fusion, a.x.shape[1]!),
    ...launch(device, d, a.geometry, G * d.Co, outputs, 1),
    flops: G * gemmFlops(d) + (sc ? 2 * d.Co * outputs * fusion.sc_cin : 0),
    tensors: [
      [ws.span, 'read'], [a.x, 'read'], [sc?.x ?? none, 'read'], secondPart(device, a.x2 ?? sc?.x2),
      [bs?.span ?? none, 'read'], [a.chan ?? none, 'read'], [a.residual ?? none, 'read'], [ys.span, 'write'], ...normBinding(a.norm),
    ],
  });
}

export interface Conv2dBackwardArgs {
  x: Tensor;   // forward input (B, Ci, H, W), or (B, Ci, H/2, W/2) with upsample; with x2 its first channels
  /** The forward input's remaining channels: it was x and x2 concatenated (a fused shortcut's input,
   *  or with `norm` the GroupNorm's). */
  x2?: Tensor;
  /** The forward convolved x's GroupNorm (then SiLU), normalised as loaded: the weight gradient
   *  normalises x again as it gathers it, and dx is the gradient wrt the normalised input (B, Ci, H, W),
   *  one tensor even where x has two parts. */
  norm?: ConvInputNorm;
  /** The forward convolved x's nearest 2x upsampling: dx is then the gradient wrt that (B, Ci, H, W). */
  upsample?: boolean;
  w: Tensor;   // (Co, Ci, K, K)
  dy: Tensor;  // (B, Co, OH, OW)
  geometry: ConvGeometry;
  /** The input gradient: dx = (or += with `accumulate`, where x fans out); with x2, dx2 likewise for
   *  x2's channels. Left out: the parameter gradients only. */
  input?: { dx: Tensor; dx2?: Tensor; accumulate: boolean };
  /** The parameter gradients. Left out: the input gradient only. */
  params?: Conv2dParamGrads;
  /** More 1x1 convolutions of the same x whose backward joins this one (the forward's `stacked`: the
   *  attention's k and v after q): dx sums all of them, and each gets its dw and db. Their w, dy, dw
   *  and db must each lie in one buffer at one regular stride with this convolution's (views of the
   *  flat parameters, of one activation gradient, of the flat gradients; dw's stride that of w). The
   *  split and the bias rule are those of one convolution of G Co outputs (weight (G Co, Ci, 1, 1)). */
  stacked?: readonly { w: Tensor; dy: Tensor; dw: Tensor; db: Tensor }[];
  label: string;
}

export interface Conv2dParamGrads {
  dw: Tensor;            // (Co, Ci, K, K) +=
  db?: Tensor;           // (Co) +=
  /** (B, Co) per-(sample, channel) sums of dy, a take of rowSums, when the planner has them (the
   *  backward of a FLAG_CHAN add computes exactly these): db is then their sum over the batch, queued
   *  in rowSums. Without them, db is the weight-gradient GEMM's extra column where conv2dBiasInGemm,
   *  else such sums computed here into a take of rowSums. */
  dbPartials?: Tensor;
  rowSums?: RowSums;
  /** From weightGradSplit (default: no split). */
  split?: WeightGradSplit;
  /** With several splits: where their partial copies of dW (and db) are taken (RowSums.takeInTurn),
   *  their sum into dw (and db) queued there, to be added when it dispatches. */
  splitSums?: RowSums;
}

/** The GEMMs of a convolution's backward dispatch (conv2d.wgsl `backward`): the input gradient's
 *  (M = Ci, N = B*H*W) with `input`, and the weight gradient's (M = Co, N = Ci*K*K plus `dbColumn`,
 *  one per split) with a split. */
function backwardGemms(d: ConvDims, input: boolean, split: WeightGradSplit | undefined, dbColumn: boolean): GemmShape[] {
  const gemms: GemmShape[] = [];
  if (input) gemms.push({ m: d.Ci, n: d.B * d.H * d.W, z: 1 });
  if (split) gemms.push({ m: d.Co, n: d.Ci * d.K * d.K + (dbColumn ? 1 : 0), z: split.splits });
  return gemms;
}

/** Whether the bias gradient of a convolution (input shape x, weight shape w, without given
 *  per-sample sums), whose weight gradient is split as `split` and shares its dispatch with the input
 *  gradient when `withInput`, is its weight-gradient GEMM's column of ones. With exact (fp32)
 *  operands only, where it is the same f32 sum of dy (the reduced tiers would sum dy rounded to f16:
 *  small gradients lose most of their bits), and
 *  - where the last column tile has room for it (Ci*K*K not a multiple of the tile's columns), or
 *  - where the column of tiles it adds keeps the dispatch's grid below SMALL_TILE_MAX_WORKGROUPS
 *    (batch 1 and 8): a large GPU runs those workgroups on SMs that sat idle, and the step has one
 *    dependent dispatch fewer. In large grids the extra column is real work (+15% of the bundled
 *    model's weight-gradient time when SwiftShader ran it everywhere), more than one pass over dy.
 *  Otherwise the backward's dispatch also sums dy per sample (its plane sums) into rows of a RowSums. */
export function conv2dBiasInGemm(device: GPUDevice, x: readonly number[], w: readonly number[], g: ConvGeometry, split: WeightGradSplit, withInput: boolean): boolean {
  return biasInGemm(device, dims(x, w, g, 'conv2dBiasInGemm'), split, withInput);
}

function biasInGemm(device: GPUDevice, d: ConvDims, split: WeightGradSplit, withInput: boolean): boolean {
  if (!gemmOperandsExact(device)) return false;
  const tile = gemmTileOn(device, backwardGemms(d, withInput, split, false));
  if ((d.Ci * d.K * d.K) % tile.cols !== 0) return true;
  return gemmWorkgroups(backwardGemms(d, withInput, split, true), GEMM_DEFAULT_TILE) < SMALL_TILE_MAX_WORKGROUPS;
}

/** The rows a bias gradient's per-sample partials take of a RowSums: (B, Co). */
export function conv2dBiasPartialsShape(x: readonly number[], w: readonly number[]): [number, number] {
  return [x[0]!, w[0]!];
}

/**
 * A convolution's backward, its two GEMMs in one dispatch (conv2d.wgsl `backward`): dx = (or +=),
 * and dw +=, db += (parameter gradients accumulate; the trainer zeroes them per step). With a split
 * the weight gradient is a split-K GEMM into partial copies plus an in-order sum, queued in splitSums. The bias gradient is the
 * GEMM's extra column (a column of ones: dy summed over the batch's pixels), or the sum over the
 * batch of per-sample sums (dbPartials, or computed here), queued in rowSums.
 */
export function conv2dBackward(device: GPUDevice, a: Conv2dBackwardArgs): Dispatch[] {
  const one = dims(convInputShape(a.x.shape, a.upsample, a.x2?.shape), a.w.shape, a.geometry, a.label);
  const ca = a.x.shape[1]!;
  expectShape(a.dy, [one.B, one.Co, one.OH, one.OW], a.label);
  const { input, params } = a;
  if (!input && !params) throw new Error(`${a.label}: conv2d backward with neither the input nor the parameter gradients`);
  const stacked = a.stacked ?? [];
  const G = 1 + stacked.length;
  // The GEMMs run over all G convolutions' output channels.
  const d = { ...one, Co: G * one.Co };
  if (a.norm && a.upsample) throw new Error(`${a.label}: a normalised convolution input is not upsampled`);
  if (input) {
    // The gradient of a normalised input is that of the GroupNorm's output: one tensor.
    const twoPartGrad = a.x2 !== undefined && !a.norm;
    expectShape(input.dx, [d.B, twoPartGrad ? ca : d.Ci, d.H, d.W], a.label);
    if (twoPartGrad !== (input.dx2 !== undefined)) throw new Error(`${a.label}: conv2d backward takes dx2 exactly when the input has x2 and is not normalised`);
    if (input.dx2) expectShape(input.dx2, [d.B, d.Ci - ca, d.H, d.W], a.label);
  }
  const split = params ? params.split ?? unsplit(d.B * d.OH * d.OW) : undefined;
  if (params) {
    expectShape(params.dw, a.w.shape, a.label);
    if (params.db) expectShape(params.db, [one.Co], a.label);
    if (split!.splits > 1 && !params.splitSums) throw new Error(`${a.label}: conv2d weight gradient split ${split!.splits} ways needs splitSums for its partial copies`);
    // splitSums sums whenever it fills, rowSums at the backward's end: one buffer for both would sum
    // partials before they are written.
    if (params.splitSums && params.splitSums === params.rowSums) throw new Error(`${a.label}: conv2d splitSums and rowSums must be two RowSums`);
  }
  const gemmDb = params?.db !== undefined && params.dbPartials === undefined && biasInGemm(device, d, split!, input !== undefined);
  if (stacked.length > 0) {
    if (one.K !== 1 || a.geometry.stride !== 1 || a.upsample || a.x2 || !input || !params?.db || params.dbPartials) {
      throw new Error(`${a.label}: a stacked conv2d backward is 1x1 stride 1 with dx and the parameter gradients, biases included`);
    }
    for (const t of stacked) {
      expectShape(t.w, a.w.shape, a.label);
      expectShape(t.dy, a.dy.shape, a.label);
      expectShape(t.dw, a.w.shape, a.label);
      expectShape(t.db, [one.Co], a.label);
    }
  }
  // Each convolution's parameter gradients, the first's and the stacked ones'.
  const grads = params ? [{ dw: params.dw, db: params.db }, ...stacked.map((t) => ({ dw: t.dw, db: t.db }))] : [];
  const ws = spanOf([a.w, ...stacked.map((t) => t.w)], `${a.label}.weights`);
  const dys = spanOf([a.dy, ...stacked.map((t) => t.dy)], `${a.label}.dys`);
  const fusion: Fusion = {
    ...UNFUSED, groups: G, y_gstride: regularStride(dys.offsets, 'output gradients', a.label), w_gstride: regularStride(ws.offsets, 'weights', a.label),
  };
  // Stacked and unsplit: every dw and db in one writable span (bindings may not overlap), placed by offsets.
  let gradSpan: Tensor | undefined;
  if (stacked.length > 0 && split!.splits === 1) {
    const all = spanOf([...grads.map((g) => g.dw), ...grads.map((g) => g.db!)], `${a.label}.grads`);
    if (regularStride(all.offsets.slice(0, G), 'weight gradients', a.label) !== fusion.w_gstride) {
      throw new Error(`${a.label}: stacked weight gradients must lie at the weights' stride (${fusion.w_gstride})`);
    }
    Object.assign(fusion, { w_off: all.offsets[0]!, b_off: all.offsets[G]!, b_gstride: regularStride(all.offsets.slice(G), 'bias gradients', a.label) });
    gradSpan = all.span;
  }
  const tile = gemmTileOn(device, backwardGemms(d, input !== undefined, split, false));
  const [inputGemm, weightGemm] = [backwardGemms(d, input !== undefined, undefined, false), backwardGemms(d, false, split, gemmDb)];
  // The bias gradients from per-sample sums: given (dbPartials), or the plane sums this dispatch
  // adds, one take of the row sums per convolution (consecutive, so one span).
  let planeSums: { span: Tensor; offsets: number[] } | undefined;
  if (params?.db && !gemmDb) {
    if (!params.rowSums) throw new Error(`${a.label}: conv2d bias gradient from per-sample sums needs rowSums`);
    if (params.dbPartials) {
      expectShape(params.dbPartials, [one.B, one.Co], a.label);
      params.rowSums.add(params.dbPartials, params.db);
    } else {
      const takes = grads.map((_, g) => params.rowSums!.take([one.B, one.Co], `${a.label}.db_partials${G > 1 ? `[${g}]` : ''}`));
      takes.forEach((t, g) => params.rowSums!.add(t, grads[g]!.db!));
      planeSums = spanOf(takes, `${a.label}.db_partials`);
      fusion.plane_gstride = regularStride(planeSums.offsets, 'plane sums', a.label);
    }
  }
  const tiles = {
    input_tiles: gemmWorkgroups(inputGemm, tile), weight_tiles: gemmWorkgroups(weightGemm, tile),
    plane_groups: planeSums ? Math.ceil((d.B * d.Co) / (gemmThreads(tile) / PLANE_LANES)) : 0,
  };
  const ncols = d.Ci * d.K * d.K;
  const width = d.Co * ncols + (gemmDb ? d.Co : 0);
  const taken = params && split!.splits > 1 ? params.splitSums!.takeInTurn(device, [split!.splits, width], `${a.label}.dw_partials`) : undefined;
  const partials = taken?.partials ?? gradSpan ?? params?.dw;
  // Outputs this dispatch does not write, each in a sink of its own (writable bindings may not alias).
  const sink = (t: Tensor | undefined, slot: number): [Tensor, 'write'] => [t ?? placeholderSink(device, slot), 'write'];
  const flags = (input?.accumulate ? FLAG_ACC : 0) | (a.upsample ? FLAG_UP2 : 0) | (gemmDb ? FLAG_DB : 0) | normFlags(a.norm);
  const out = [
    ...(taken?.before ?? []),
    makeDispatch(device, {
      ...forInput(device, a.x, a.x2, a.norm, a.label), entry: 'backward', label: `${a.label}.${[input && 'dx', params && 'dw', planeSums && 'db'].filter(Boolean).join('+')}`,
      uniforms: uniforms(one, a.geometry, flags, split ?? unsplit(0), fusion, ca, tiles),
      constants: { KSIZE: d.K, STRIDE: a.geometry.stride, ...gemmConstants(tile) },
      workgroups: grid(tiles.input_tiles + tiles.weight_tiles + tiles.plane_groups),
      flops: (input ? gemmFlops(d) : 0) + (params ? gemmFlops(d) : 0),
      tensors: [[ws.span, 'read'], [a.x, 'read'], [dys.span, 'read'], secondPart(device, a.x2),
        sink(input?.dx, 0), sink(input?.dx2, 1), sink(partials, 2), sink(gemmDb && split!.splits === 1 && !gradSpan ? params!.db : planeSums?.span, 3),
        ...normBinding(a.norm)],
    }),
  ];
  // The slices' in-order sums: a partial copy's rows hold the G convolutions' dw (G Co rows of
  // Ci K K), then their db (G Co); one convolution's are one sum into dw and db, stacked ones' a sum
  // of each one's share.
  const flat = (t: Tensor) => reshape(t, [numel(t.shape)]);
  if (taken && G === 1) params!.splitSums!.add(taken.partials, flat(params!.dw), gemmDb ? params!.db : undefined);
  if (taken && G > 1) {
    grads.forEach((g, i) => {
      params!.splitSums!.addColumns(taken.partials, i * one.Co * ncols, one.Co * ncols, flat(g.dw));
      if (gemmDb) params!.splitSums!.addColumns(taken.partials, d.Co * ncols + i * one.Co, one.Co, g.db!);
    });
  }
  return out;
}
