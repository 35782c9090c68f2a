// Launcher for shaders/groupnorm.wgsl: GroupNorm with optional fused SiLU, forward and backward.
import code from '../../shaders/groupnorm.wgsl?raw';
import { grid, makeDispatch, placeholder, placeholderSink, type Dispatch, type KernelSource } from '../gpu/kernel';
import type { UniformValues } from '../gpu/uniforms';
import { alignFloats, viewTensor, type Tensor } from '../gpu/tensor';
import { sumRowsInto } from './reduce';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'groupnorm', code };
const FLAG_SILU = 1;
const FLAG_ACC = 2;
export const GROUPNORM_EPS = 1e-6;

interface NormArgs {
  x: Tensor;        // (B, C, H, W); with x2, the first channels (B, Ca, H, W)
  /** The remaining channels (B, C - Ca, H, W): the input is x and x2 concatenated along channels,
   *  read where they are (the UNet's skip concatenation, never written out). */
  x2?: Tensor;
  w: Tensor;        // (C)
  b: Tensor;        // (C)
  stats: Tensor;    // (2, B, G): mean and rstd, saved by forward
  groups: number;
  silu: boolean;
  label: string;
}

/** The normalised input's shape (B, C, H, W): x's, or x and x2 concatenated along channels. */
export function normInputShape(x: readonly number[], x2?: readonly number[]): number[] {
  if (!x2) return [...x];
  const [B, Ca, H, W] = x as [number, number, number, number];
  return [B, Ca + x2[1]!, H, W];
}

function uniforms(a: NormArgs, extraFlags: number): UniformValues {
  const shape = normInputShape(a.x.shape, a.x2?.shape);
  const [B, C, H, W] = shape as [number, number, number, number];
  if (a.x.shape.length !== 4 || C % a.groups !== 0) {
    throw new Error(`${a.label}: groupnorm of [${shape}] with ${a.groups} groups`);
  }
  if (a.x2) expectShape(a.x2, [B, C - a.x.shape[1]!, H, W], a.label);
  expectShape(a.w, [C], a.label);
  expectShape(a.b, [C], a.label);
  expectShape(a.stats, [2, B, a.groups], a.label);
  return { batch: B, channels: C, hw: H * W, groups: a.groups, flags: (a.silu ? FLAG_SILU : 0) | extraFlags, eps: GROUPNORM_EPS, ca: a.x.shape[1]! };
}

/** x and x2 (or a placeholder) as bindings 1 and 2. */
function inputs(device: GPUDevice, a: NormArgs): [Tensor, 'read'][] {
  return [[a.x, 'read'], [a.x2 ?? placeholder(device), 'read']];
}

/** Scratch floats groupNormBackward needs for input shape x: the (B, C) partials of dw and of db. */
export function groupNormScratchFloats(x: readonly number[]): number {
  const planes = x[0]! * x[1]!;
  return alignFloats(planes) + planes;
}

/** y = groupnorm(x) (then SiLU when `silu`); saves mean and rstd. */
export function groupNormForward(device: GPUDevice, a: NormArgs & { y: Tensor }): Dispatch {
  expectShape(a.y, normInputShape(a.x.shape, a.x2?.shape), a.label);
  return makeDispatch(device, {
    shader, entry: 'forward', label: a.label,
    uniforms: uniforms(a, 0),
    tensors: [...inputs(device, a), [a.w, 'read'], [a.b, 'read'], [a.y, 'write'], [a.stats, 'write']],
    workgroups: [a.x.shape[0]! * a.groups, 1, 1],
  });
}

/** dx = (+= with `accumulate`; with x2, dx2 likewise for its channels), dw +=, db += (through
 *  per-(sample, channel) partials in `scratch`, a flat tensor of at least groupNormScratchFloats
 *  floats whose contents are overwritten). */
export function groupNormBackward(
  device: GPUDevice,
  a: NormArgs & { dy: Tensor; dx: Tensor; dx2?: Tensor; dw: Tensor; db: Tensor; scratch: Tensor; accumulate: boolean },
): Dispatch[] {
  const shape = normInputShape(a.x.shape, a.x2?.shape);
  expectShape(a.dy, shape, a.label);
  expectShape(a.dx, a.x.shape, a.label);
  if (!a.x2 !== !a.dx2) throw new Error(`${a.label}: groupnorm backward takes dx2 exactly when the input has x2`);
  if (a.x2 && a.dx2) expectShape(a.dx2, a.x2.shape, a.label);
  expectShape(a.dw, a.w.shape, a.label);
  expectShape(a.db, a.b.shape, a.label);
  const [B, C] = shape as [number, number];
  const need = groupNormScratchFloats(shape);
  if (a.scratch.shape[0]! < need) throw new Error(`${a.label}: groupnorm backward needs ${need} scratch floats, got ${a.scratch.shape[0]}`);
  const pw = viewTensor(a.scratch, 0, [B, C], `${a.label}.dw_partials`);
  const pb = viewTensor(a.scratch, alignFloats(B * C), [B, C], `${a.label}.db_partials`);
  const saved: (readonly [Tensor, 'read'])[] = [...inputs(device, a), [a.w, 'read'], [a.b, 'read'], [a.stats, 'read'], [a.dy, 'read']];
  return [
    makeDispatch(device, {
      shader, entry: 'backward_input', label: `${a.label}.dx`,
      uniforms: uniforms(a, a.accumulate ? FLAG_ACC : 0),
      tensors: [...saved, [a.dx, 'write'], [a.dx2 ?? placeholderSink(device), 'write']],
      workgroups: [B * a.groups, 1, 1],
    }),
    makeDispatch(device, {
      shader, entry: 'backward_params', label: `${a.label}.dparams`,
      uniforms: uniforms(a, 0),
      tensors: [...saved, [pw, 'write'], [pb, 'write']],
      workgroups: grid(B * C),
    }),
    sumRowsInto(device, { src: pw, out: a.dw, label: `${a.label}.dw` }),
    sumRowsInto(device, { src: pb, out: a.db, label: `${a.label}.db` }),
  ];
}
