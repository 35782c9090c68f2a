// Launcher for shaders/groupnorm.wgsl: GroupNorm with optional fused SiLU, forward and backward.
import code from '../../shaders/groupnorm.wgsl?raw';
import { f32bits, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import type { Tensor } from '../gpu/tensor';
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

function uniforms(a: NormArgs, extraFlags: number): number[] {
  const [B, C, H, W] = a.x.shape as [number, number, number, number];
  if (a.x.shape.length !== 4 || C % a.groups !== 0) {
    throw new Error(`${a.label}: groupnorm of [${a.x.shape}] with ${a.groups} groups`);
  }
  expectShape(a.w, [C], a.label);
  expectShape(a.b, [C], a.label);
  expectShape(a.mean, [B, a.groups], a.label);
  expectShape(a.rstd, [B, a.groups], a.label);
  return [B, C, H * W, a.groups, (a.silu ? FLAG_SILU : 0) | extraFlags, f32bits(GROUPNORM_EPS)];
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

/** dx = (+= with `accumulate`), dw +=, db +=. */
export function groupNormBackward(
  device: GPUDevice,
  a: NormArgs & { dy: Tensor; dx: Tensor; dw: Tensor; db: Tensor; accumulate?: boolean },
): Dispatch[] {
  expectShape(a.dy, a.x.shape, a.label);
  expectShape(a.dx, a.x.shape, a.label);
  expectShape(a.dw, a.w.shape, a.label);
  expectShape(a.db, a.b.shape, a.label);
  const saved: (readonly [Tensor, 'read'])[] = [[a.x, 'read'], [a.w, 'read'], [a.b, 'read'], [a.mean, 'read'], [a.rstd, 'read'], [a.dy, 'read']];
  return [
    makeDispatch(device, {
      shader, entry: 'backward_input', label: `${a.label}.dx`,
      uniforms: uniforms(a, a.accumulate ? FLAG_ACC : 0),
      tensors: [...saved, [a.dx, 'write']],
      workgroups: [a.x.shape[0]! * a.groups, 1, 1],
    }),
    makeDispatch(device, {
      shader, entry: 'backward_params', label: `${a.label}.dparams`,
      uniforms: uniforms(a, 0),
      tensors: [...saved, [a.dw, 'write'], [a.db, 'write']],
      workgroups: [a.x.shape[1]!, 1, 1],
    }),
  ];
}
