// Launcher for shaders/groupnorm.wgsl: GroupNorm with optional fused SiLU, forward and backward.
import code from '../../shaders/groupnorm.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import type { UniformValues } from '../gpu/uniforms';
import { alignFloats, viewTensor, type Tensor } from '../gpu/tensor';
import { sumRowsInto } from './reduce';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'groupnorm', code };
const FLAG_SILU = 1;
const FLAG_ACC = 2;
export const GROUPNORM_EPS = 1e-6;

interface NormArgs {
  x: Tensor;        // (B, C, H, W)
  w: Tensor;        // (C)
  b: Tensor;        // (C)
  mean: Tensor;     // (B, G) saved by forward
  rstd: Tensor;     // (B, G) saved by forward
  groups: number;
  silu: boolean;
  label: string;
}

function uniforms(a: NormArgs, extraFlags: number): UniformValues {
  const [B, C, H, W] = a.x.shape as [number, number, number, number];
  if (a.x.shape.length !== 4 || C % a.groups !== 0) {
    throw new Error(`${a.label}: groupnorm of [${a.x.shape}] with ${a.groups} groups`);
  }
  expectShape(a.w, [C], a.label);
  expectShape(a.b, [C], a.label);
  expectShape(a.mean, [B, a.groups], a.label);
  expectShape(a.rstd, [B, a.groups], a.label);
  return { batch: B, channels: C, hw: H * W, groups: a.groups, flags: (a.silu ? FLAG_SILU : 0) | extraFlags, eps: GROUPNORM_EPS };
}

/** Scratch floats groupNormBackward needs for input shape x: the (B, C) partials of dw and of db. */
export function groupNormScratchFloats(x: readonly number[]): number {
  const planes = x[0]! * x[1]!;
  return alignFloats(planes) + planes;
}

/** y = groupnorm(x) (then SiLU when `silu`); saves mean and rstd. */
export function groupNormForward(device: GPUDevice, a: NormArgs & { y: Tensor }): Dispatch {
  expectShape(a.y, a.x.shape, a.label);
  return makeDispatch(device, {
    shader, entry: 'forward', label: a.label,
    uniforms: uniforms(a, 0),
    tensors: [[a.x, 'read'], [a.w, 'read'], [a.b, 'read'], [a.y, 'write'], [a.mean, 'write'], [a.rstd, 'write']],
    workgroups: [a.x.shape[0]! * a.groups, 1, 1],
  });
}

/** dx = (+= with `accumulate`), dw +=, db += (through per-(sample, channel) partials in `scratch`,
 *  a flat tensor of at least groupNormScratchFloats floats whose contents are overwritten). */
export function groupNormBackward(
  device: GPUDevice,
  a: NormArgs & { dy: Tensor; dx: Tensor; dw: Tensor; db: Tensor; scratch: Tensor; accumulate: boolean },
): Dispatch[] {
  expectShape(a.dy, a.x.shape, a.label);
  expectShape(a.dx, a.x.shape, a.label);
  expectShape(a.dw, a.w.shape, a.label);
  expectShape(a.db, a.b.shape, a.label);
  const [B, C] = a.x.shape as [number, number];
  const need = groupNormScratchFloats(a.x.shape);
  if (a.scratch.shape[0]! < need) throw new Error(`${a.label}: groupnorm backward needs ${need} scratch floats, got ${a.scratch.shape[0]}`);
  const pw = viewTensor(a.scratch, 0, [B, C], `${a.label}.dw_partials`);
  const pb = viewTensor(a.scratch, alignFloats(B * C), [B, C], `${a.label}.db_partials`);
  const saved: (readonly [Tensor, 'read'])[] = [[a.x, 'read'], [a.w, 'read'], [a.b, 'read'], [a.mean, 'read'], [a.rstd, 'read'], [a.dy, 'read']];
  return [
    makeDispatch(device, {
      shader, entry: 'backward_input', label: `${a.label}.dx`,
      uniforms: uniforms(a, a.accumulate ? FLAG_ACC : 0),
      tensors: [...saved, [a.dx, 'write']],
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
