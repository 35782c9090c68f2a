// Launcher for shaders/linear.wgsl: fully connected layers with an optional SiLU on their input;
// several layers that share their input run in one dispatch each way.
import code from '../../shaders/linear.wgsl?raw';
import { grid, makeDispatch, placeholderSink, type Dispatch, type KernelSource } from '../gpu/kernel';
import { createTensorFrom, spanOf, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'linear', code };
const WG = 64;
const FLAG_SILU = 1;
const FLAG_ACC = 2;
const TABLE_WORDS = 6;   // linear.wgsl's table: w, b (or db), y (or dy) and dw offsets, Out, first row

/** [N, In, Out] of x (N, In) and w (Out, In). */
function dims(x: Tensor, w: Tensor, label: string): [number, number, number] {
  const [N, In] = x.shape as [number, number];
  const [Out, wIn] = w.shape as [number, number];
  if (x.shape.length !== 2 || w.shape.length !== 2 || wIn !== In) {
    throw new Error(`${label}: linear input "${x.label}" [${x.shape}] does not fit weight "${w.label}" [${w.shape}]`);
  }
  return [N, In, Out];
}

export interface LinearForwardArgs {
  x: Tensor;   // (N, In)
  w: Tensor;   // (Out, In)
  b: Tensor;   // (Out)
  y: Tensor;   // (N, Out) = b + w (siluInput ? silu(x) : x)
  /** Apply SiLU to x first: the reference does so before temb.dense.1 and every temb_proj. */
  siluInput?: boolean;
  label: string;
}

export function linearForward(device: GPUDevice, a: LinearForwardArgs): Dispatch {
  return linearLayersForward(device, { x: a.x, layers: [{ w: a.w, b: a.b, y: a.y }], siluInput: a.siluInput, label: a.label });
}

export interface LinearLayersForwardArgs {
  x: Tensor;   // (N, In), the input every layer shares
  /** Each y (N, Out) = b + w a(x). The w share one buffer, the b one buffer, the y one buffer
   *  (parameter views of one flat store; views of one output tensor). */
  layers: readonly { w: Tensor; b: Tensor; y: Tensor }[];
  siluInput?: boolean;
  label: string;
}

/** One row of linear.wgsl's layer table per layer: its offsets in the bound ranges, Out, first row. */
function layerTable(device: GPUDevice, rows: readonly { w: number; b: number; y: number; dw: number; Out: number }[], label: string): { table: Tensor; outF: number } {
  const table = new Uint32Array(rows.length * TABLE_WORDS);
  let first = 0;
  rows.forEach((r, i) => {
    table.set([r.w, r.b, r.y, r.dw, r.Out, first], i * TABLE_WORDS);
    first += r.Out;
  });
  return { table: createTensorFrom(device, [table.length], new Float32Array(table.buffer), `${label}.table`), outF: first };
}

/** The layers' [N, In] (they share x) and each one's Out, checked against x. */
function layerDims(x: Tensor, ws: readonly Tensor[], label: string): { N: number; In: number; outs: number[] } {
  if (ws.length === 0) throw new Error(`${label}: no layers`);
  const dimsOf = ws.map((w) => dims(x, w, label));
  return { N: dimsOf[0]![0], In: dimsOf[0]![1], outs: dimsOf.map((d) => d[2]) };
}

/** Every layer's y = b + w a(x), in one dispatch (a table of the layers' offsets, written at plan time). */
export function linearLayersForward(device: GPUDevice, a: LinearLayersForwardArgs): Dispatch {
  const { N, In, outs } = layerDims(a.x, a.layers.map((l) => l.w), a.label);
  a.layers.forEach((l, i) => {
    expectShape(l.b, [outs[i]!], a.label);
    expectShape(l.y, [N, outs[i]!], a.label);
  });
  const w = spanOf(a.layers.map((l) => l.w), `${a.label}.weights`);
  const b = spanOf(a.layers.map((l) => l.b), `${a.label}.biases`);
  const y = spanOf(a.layers.map((l) => l.y), `${a.label}.outputs`);
  const { table, outF } = layerTable(device, outs.map((Out, i) => ({ w: w.offsets[i]!, b: b.offsets[i]!, y: y.offsets[i]!, dw: 0, Out })), a.label);
  return makeDispatch(device, {
    shader, entry: 'forward', label: a.label,
    uniforms: { n: N, in_f: In, out_f: outF, flags: a.siluInput ? FLAG_SILU : 0, layers: a.layers.length, param_groups: 0 },
    tensors: [[table, 'read'], [a.x, 'read'], [w.span, 'read'], [b.span, 'read'], [y.span, 'write']],
    workgroups: grid(Math.ceil((N * outF) / WG)),
  });
}

export interface LinearBackwardArgs {
  x: Tensor;    // forward input (N, In), before the SiLU
  w: Tensor;    // (Out, In)
  dy: Tensor;   // (N, Out)
  dx?: Tensor;  // (N, In) = (+= with accumulateDx); not computed when absent
  dw: Tensor;   // (Out, In) +=
  db: Tensor;   // (Out) +=
  siluInput?: boolean;
  /** dx += (the time embedding fans out to every ResBlock) or = ; needed with dx. */
  accumulateDx?: boolean;
  label: string;
}

/** dw += and db += (parameter gradients accumulate; the trainer zeroes them per step), then dx. */
export function linearBackward(device: GPUDevice, a: LinearBackwardArgs): Dispatch[] {
  return linearLayersBackward(device, { ...a, layers: [{ w: a.w, dy: a.dy, dw: a.dw, db: a.db }] });
}

export interface LinearLayersBackwardArgs {
  x: Tensor;    // the forward input (N, In) every layer shares, before the SiLU
  /** Each layer's w (Out, In), dy (N, Out), dw +=, db +=: the w share one buffer, the dy one, and
   *  the dw and db one (the flat gradients). */
  layers: readonly { w: Tensor; dy: Tensor; dw: Tensor; db: Tensor }[];
  /** (N, In) = (+= with accumulateDx) the sum of every layer's input gradient; skipped when absent. */
  dx?: Tensor;
  accumulateDx?: boolean;
  siluInput?: boolean;
  label: string;
}

/** Every layer's dw += and db += and, with dx, the input gradient (the layers' terms added in order),
 *  in one dispatch. */
export function linearLayersBackward(device: GPUDevice, a: LinearLayersBackwardArgs): Dispatch[] {
  const { N, In, outs } = layerDims(a.x, a.layers.map((l) => l.w), a.label);
  a.layers.forEach((l, i) => {
    expectShape(l.dy, [N, outs[i]!], a.label);
    expectShape(l.dw, [outs[i]!, In], a.label);
    expectShape(l.db, [outs[i]!], a.label);
  });
  if (a.dx) expectShape(a.dx, [N, In], a.label);
  const w = spanOf(a.layers.map((l) => l.w), `${a.label}.weights`);
  const dy = spanOf(a.layers.map((l) => l.dy), `${a.label}.output_grads`);
  const grads = spanOf(a.layers.flatMap((l) => [l.dw, l.db]), `${a.label}.param_grads`);
  const { table, outF } = layerTable(device, outs.map((Out, i) => ({ w: w.offsets[i]!, b: grads.offsets[2 * i + 1]!, y: dy.offsets[i]!, dw: grads.offsets[2 * i]!, Out })), a.label);
  const paramGroups = Math.ceil((outF * (In + 1)) / WG);
  const inputGroups = a.dx ? Math.ceil((N * In) / WG) : 0;
  return [makeDispatch(device, {
    shader, entry: 'backward', label: `${a.label}.${a.dx ? 'dparams+dx' : 'dparams'}`,
    uniforms: { n: N, in_f: In, out_f: outF, layers: a.layers.length, param_groups: paramGroups, flags: (a.siluInput ? FLAG_SILU : 0) | (a.accumulateDx ? FLAG_ACC : 0) },
    tensors: [[table, 'read'], [a.x, 'read'], [w.span, 'read'], [dy.span, 'read'], [grads.span, 'write'], [a.dx ?? placeholderSink(device), 'write']],
    workgroups: grid(paramGroups + inputGroups),
  })];
}
