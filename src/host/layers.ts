// Shape facts of the UNet's layers shared by the planner, the GPU launchers and the CPU references:
// convolution geometries and output sizes, GroupNorm's group counts, the timestep embedding's
// frequencies (computed on the host as the reference computes them).

export interface ConvGeometry {
  stride: number;
  pad: [top: number, left: number, bottom: number, right: number];
}

/** 3x3, stride 1, "same" padding: the UNet's ordinary conv. */
export const CONV3X3: ConvGeometry = { stride: 1, pad: [1, 1, 1, 1] };
/** 3x3, stride 2, zero-pad bottom/right by 1: the UNet's downsample (H -> H/2 for even H). */
export const DOWNSAMPLE3X3: ConvGeometry = { stride: 2, pad: [0, 0, 1, 1] };
/** 1x1, stride 1: skip projections (nin_shortcut) and attention q/k/v/proj_out. */
export const CONV1X1: ConvGeometry = { stride: 1, pad: [0, 0, 0, 0] };

/** Output length along one axis: floor((in + padA + padB - k) / stride) + 1. */
export function convOutSize(inSize: number, k: number, stride: number, padA: number, padB: number): number {
  return Math.floor((inSize + padA + padB - k) / stride) + 1;
}

/**
 * Number of groups for C channels. A number: that many (the reference UNet's GroupNorm(32, C); the
 * config checks at load that it divides every width); 'auto': the layered research variant, which
 * narrows to 16, then 8, then one channel per group.
 */
export function normGroups(C: number, rule: number | 'auto'): number {
  if (rule !== 'auto') {
    if (C % rule !== 0) throw new Error(`normGroups: C=${C} channels is not divisible by ${rule} groups`);
    return rule;
  }
  if (C % 16 === 0) return 16;
  if (C % 8 === 0) return 8;
  return C;
}

const f32 = Math.fround;

/** freq_i for i < floor(dim / 2), rounded to float32 as PyTorch does; the GPU kernel uploads these. */
export function timestepFrequencies(dim: number): Float32Array {
  const half = Math.floor(dim / 2);
  if (half < 2) throw new Error(`timestepEmbedding: dim=${dim} is too small, the frequencies need dim >= 4`);
  const negScale = f32(-(Math.log(10000) / (half - 1)));
  const freq = new Float32Array(half);
  for (let i = 0; i < half; i++) freq[i] = Math.exp(f32(i * negScale));
  return freq;
}
