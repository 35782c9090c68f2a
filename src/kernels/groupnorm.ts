// Launcher for shaders/groupnorm.wgsl: GroupNorm with optional fused SiLU, forward and backward.
import code from '../../shaders/groupnorm.wgsl?raw';
import { makeDispatch, placeholder, placeholderSink, type Dispatch, type KernelSource } from '../gpu/kernel';
import type { UniformValues } from '../gpu/uniforms';
import { spanOf, type Tensor } from '../gpu/tensor';
import type { RowSums } from './reduce';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'groupnorm', code };
const FLAG_SILU = 1;
const FLAG_ACC = 2;
const FLAG_RES = 4;
const FLAG_PLANE = 8;
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

function uniforms(a: NormArgs, extraFlags: number, affineOffsets: readonly number[]): UniformValues {
  const shape = normInputShape(a.x.shape, a.x2?.shape);
  const [B, C, H, W] = shape as [number, number, number, number];
  if (a.x.shape.length !== 4 || C % a.groups !== 0) {
    throw new Error(`${a.label}: groupnorm of [${shape}] with ${a.groups} groups`);
  }
  if (a.x2) expectShape(a.x2, [B, C - a.x.shape[1]!, H, W], a.label);
  expectShape(a.w, [C], a.label);
  expectShape(a.b, [C], a.label);
  expectShape(a.stats, [2, B, a.groups], a.label);
  return { batch: B, channels: C, hw: H * W, groups: a.groups, flags: (a.silu ? FLAG_SILU : 0) | extraFlags, eps: GROUPNORM_EPS, ca: a.x.shape[1]!,
    gamma_off: affineOffsets[0]!, beta_off: affineOffsets[1]!, part_off: 0, plane_off: 0 };
}

/** x, x2 (or the backward's residual gradient, or a placeholder) and the affine parameters as
 *  bindings 1 to 3, and the uniforms. */
function inputs(device: GPUDevice, a: NormArgs, extraFlags: number, second = a.x2): { tensors: [Tensor, 'read'][]; uniforms: UniformValues } {
  const affine = spanOf([a.w, a.b], `${a.label}.affine`);
  return {
    tensors: [[a.x, 'read'], [second ?? placeholder(device), 'read'], [affine.span, 'read']],
    uniforms: uniforms(a, extraFlags, affine.offsets),
  };
}

/** The rows groupNormBackward's parameter partials take of a RowSums: (B, 2C), pw then pb per row. */
export function groupNormPartialsShape(x: readonly number[]): [number, number] {
  return [x[0]!, 2 * x[1]!];
}

/** y = groupnorm(x) (then SiLU when `silu`); saves mean and rstd. w and b lie in one buffer (the flat
 *  parameters), bound as one span. y may be stored as f16 (forward_f16) where each group holds an
 *  even number of values (groupNormStoresF16). */
export function groupNormForward(device: GPUDevice, a: NormArgs & { y: Tensor }): Dispatch {
  const shape = normInputShape(a.x.shape, a.x2?.shape);
  expectShape(a.y, shape, a.label);
  const half = a.y.storage === 'f16';
  if (half && !groupNormStoresF16(shape, a.groups)) {
    throw new Error(`${a.label}: a GroupNorm output stored as f16 needs an even number of values per group, [${shape}] in ${a.groups} groups has not`);
  }
  const { tensors, uniforms } = inputs(device, a, 0);
  return makeDispatch(device, {
    shader, entry: half ? 'forward_f16' : 'forward', label: a.label, uniforms,
    tensors: [...tensors, [a.stats, 'write'], [a.y, 'write']], packedF16: half ? [4] : [],
    workgroups: [a.x.shape[0]! * a.groups, 1, 1],
  });
}

/** The forward's statistics without its output: mean and rstd (stats, for the backward) and the
 *  table (B, C, 4) of (mean, rstd, gamma, beta) per (sample, channel), with which a convolution
 *  normalises x as it loads it (kernels/conv2d.ts ConvInputNorm), the output's values bit for bit. */
export function groupNormStatistics(device: GPUDevice, a: NormArgs & { table: Tensor }): Dispatch {
  const [B, C] = normInputShape(a.x.shape, a.x2?.shape) as [number, number];
  expectShape(a.table, [B, C, 4], a.label);
  const { tensors, uniforms } = inputs(device, a, 0);
  return makeDispatch(device, {
    shader, entry: 'statistics', label: `${a.label}.statistics`, uniforms,
    tensors: [...tensors, [a.stats, 'write'], [a.table, 'write']],
    workgroups: [B * a.groups, 1, 1],
  });
}

/** Whether a GroupNorm of `shape` (B, C, H, W) in `groups` groups can write its output as f16 pairs:
 *  each group's values are whole words. */
export function groupNormStoresF16(shape: readonly number[], groups: number): boolean {
  const [, C, H, W] = shape as [number, number, number, number];
  return ((C / groups) * H * W) % 2 === 0;
}

/** dx = (+= with `accumulate`; with x2, dx2 likewise for its channels), and dw +=, db += through
 *  per-(sample, channel) partials in a take of rowSums, summed when rowSums dispatches: one dispatch.
 *  With residualGrad (like x, which must be one tensor), dx also gets that gradient added: the
 *  identity shortcut of a block whose input x feeds this GroupNorm. With planeSums (B, C), a take of
 *  the same rowSums, also dx summed over each (sample, channel) plane, where dx is assigned and is
 *  x's whole gradient (this GroupNorm is x's only reader: the ResBlock's conv1 output). */
export function groupNormBackward(
  device: GPUDevice,
  a: NormArgs & { dy: Tensor; dx: Tensor; dx2?: Tensor; dw: Tensor; db: Tensor; rowSums: RowSums; accumulate: boolean; residualGrad?: Tensor; planeSums?: Tensor },
): Dispatch {
  const shape = normInputShape(a.x.shape, a.x2?.shape);
  expectShape(a.dy, shape, a.label);
  expectShape(a.dx, a.x.shape, a.label);
  if (!a.x2 !== !a.dx2) throw new Error(`${a.label}: groupnorm backward takes dx2 exactly when the input has x2`);
  if (a.x2 && a.dx2) expectShape(a.dx2, a.x2.shape, a.label);
  expectShape(a.dw, a.w.shape, a.label);
  expectShape(a.db, a.b.shape, a.label);
  const partials = a.rowSums.take(groupNormPartialsShape(shape), `${a.label}.param_partials`);
  a.rowSums.add(partials, a.dw, a.db);
  if (a.residualGrad) {
    if (a.x2) throw new Error(`${a.label}: groupnorm backward adds a residual gradient only into a one-tensor input`);
    expectShape(a.residualGrad, a.x.shape, a.label);
  }
  if (a.planeSums) {
    if (a.x2 || a.accumulate || a.residualGrad) throw new Error(`${a.label}: groupnorm plane sums need an assigned dx of a one-tensor input, its whole gradient`);
    expectShape(a.planeSums, [shape[0]!, shape[1]!], a.label);
  }
  const flags = (a.accumulate ? FLAG_ACC : 0) | (a.residualGrad ? FLAG_RES : 0) | (a.planeSums ? FLAG_PLANE : 0);
  const { tensors, uniforms } = inputs(device, a, flags, a.x2 ?? a.residualGrad);
  // The parameter partials and the plane sums in one writable binding (takes of one RowSums).
  const out = spanOf(a.planeSums ? [partials, a.planeSums] : [partials], `${a.label}.partials`);
  return makeDispatch(device, {
    shader, entry: 'backward', label: `${a.label}.backward`, uniforms: { ...uniforms, part_off: out.offsets[0]!, plane_off: out.offsets[1] ?? 0 },
    tensors: [...tensors, [a.stats, 'read'], [a.dy, 'read'], [a.dx, 'write'], [a.dx2 ?? placeholderSink(device), 'write'], [out.span, 'write']],
    workgroups: [shape[0]! * a.groups, 1, 1],
  });
}
