// Launcher for shaders/linear.wgsl: fully connected layers with an optional SiLU on their input; the
// forward runs several layers that share their input in one dispatch.
import code from '../../shaders/linear.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import { byteSize, createTensor, upload, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'linear', code };
const WG = 64;
const FLAG_SILU = 1;
const FLAG_ACC = 2;
const TABLE_WORDS = 5;   // linear.wgsl's table: w, b and y offsets, Out, first column

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

/** The range of one buffer that holds every tensor of `ts`, as a tensor to bind, and each one's float offset in it. */
function span(ts: readonly Tensor[], what: string, label: string): { range: Tensor; offsets: number[] } {
  const buffer = ts[0]!.buffer;
  if (ts.some((t) => t.buffer !== buffer)) throw new Error(`${label}: the layers' ${what} tensors must share one buffer`);
  const start = Math.min(...ts.map((t) => t.offset));
  const end = Math.max(...ts.map((t) => t.offset + byteSize(t)));
  return {
    range: { buffer, offset: start, shape: [(end - start) / 4], label: `${label}.${what}` },
    offsets: ts.map((t) => (t.offset - start) / 4),
  };
}

/** Every layer's y = b + w a(x), in one dispatch (a table of the layers' offsets, written at plan time). */
export function linearLayersForward(device: GPUDevice, a: LinearLayersForwardArgs): Dispatch {
  if (a.layers.length === 0) throw new Error(`${a.label}: no layers`);
  const shapes = a.layers.map((l) => {
    const [N, In, Out] = dims(a.x, l.w, a.label);
    expectShape(l.b, [Out], a.label);
    expectShape(l.y, [N, Out], a.label);
    return { N, In, Out };
  });
  const { N, In } = shapes[0]!;
  const w = span(a.layers.map((l) => l.w), 'weight', a.label);
  const b = span(a.layers.map((l) => l.b), 'bias', a.label);
  const y = span(a.layers.map((l) => l.y), 'y', a.label);
  const table = new Uint32Array(a.layers.length * TABLE_WORDS);
  let first = 0;
  shapes.forEach(({ Out }, i) => {
    table.set([w.offsets[i]!, b.offsets[i]!, y.offsets[i]!, Out, first], i * TABLE_WORDS);
    first += Out;
  });
  const tableTensor = createTensor(device, [table.length], `${a.label}.table`);
  upload(device, tableTensor, new Float32Array(table.buffer));
  return makeDispatch(device, {
    shader, entry: 'forward', label: a.label,
    uniforms: { n: N, in_f: In, out_f: first, flags: a.siluInput ? FLAG_SILU : 0, layers: a.layers.length },
    tensors: [[a.x, 'read'], [w.range, 'read'], [b.range, 'read'], [y.range, 'write'], [tableTensor, 'read']],
    workgroups: grid(Math.ceil((N * first) / WG)),
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
  const [N, In, Out] = dims(a.x, a.w, a.label);
  expectShape(a.dy, [N, Out], a.label);
  expectShape(a.dw, [Out, In], a.label);
  expectShape(a.db, [Out], a.label);
  const silu = a.siluInput ? FLAG_SILU : 0;
  const out = [
    makeDispatch(device, {
      shader, entry: 'backward_params', label: `${a.label}.dparams`,
      uniforms: { n: N, in_f: In, out_f: Out, flags: silu, layers: 1 },
      tensors: [[a.x, 'read'], [a.dy, 'read'], [a.dw, 'write'], [a.db, 'write']],
      workgroups: grid(Math.ceil((Out * (In + 1)) / WG)),
    }),
  ];
  if (a.dx) {
    expectShape(a.dx, [N, In], a.label);
    out.push(makeDispatch(device, {
      shader, entry: 'backward_input', label: `${a.label}.dx`,
      uniforms: { n: N, in_f: In, out_f: Out, flags: silu | (a.accumulateDx ? FLAG_ACC : 0), layers: 1 },
      tensors: [[a.x, 'read'], [a.w, 'read'], [a.dy, 'read'], [a.dx, 'write']],
      workgroups: grid(Math.ceil((N * In) / WG)),
    }));
  }
  return out;
}
