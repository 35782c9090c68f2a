// Launcher for shaders/linear.wgsl: fully connected layer with an optional SiLU on its input.
import code from '../../shaders/linear.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'linear', code };
const WG = 64;
const FLAG_SILU = 1;
const FLAG_ACC = 2;

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
  const [N, In, Out] = dims(a.x, a.w, a.label);
  expectShape(a.b, [Out], a.label);
  expectShape(a.y, [N, Out], a.label);
  return makeDispatch(device, {
    shader, entry: 'forward', label: a.label,
    uniforms: { n: N, in_f: In, out_f: Out, flags: a.siluInput ? FLAG_SILU : 0 },
    tensors: [[a.x, 'read'], [a.w, 'read'], [a.b, 'read'], [a.y, 'write']],
    workgroups: grid(Math.ceil((N * Out) / WG)),
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
      uniforms: { n: N, in_f: In, out_f: Out, flags: silu },
      tensors: [[a.x, 'read'], [a.dy, 'read'], [a.dw, 'write'], [a.db, 'write']],
      workgroups: grid(Math.ceil((Out * (In + 1)) / WG)),
    }),
  ];
  if (a.dx) {
    expectShape(a.dx, [N, In], a.label);
    out.push(makeDispatch(device, {
      shader, entry: 'backward_input', label: `${a.label}.dx`,
      uniforms: { n: N, in_f: In, out_f: Out, flags: silu | (a.accumulateDx ? FLAG_ACC : 0) },
      tensors: [[a.x, 'read'], [a.w, 'read'], [a.dy, 'read'], [a.dx, 'write']],
      workgroups: grid(Math.ceil((N * In) / WG)),
    }));
  }
  return out;
}
