// IEEE binary16 rounding on the CPU: the reference for the reduced-precision tiers' GEMM operands
// (shaders/common.wgsl f16_round4). A value becomes the nearest f16 (ties to even), subnormals included;
// magnitudes from 65520 up overflow to +-inf; NaN stays NaN. The result is held in a float.
import type { HostTensor } from '../host/tensor';

const F16_MAX_ROUNDS_DOWN = 65520; // the midpoint between 65504 (f16's largest) and 65536: ties go up to inf
const F16_MIN_NORMAL = 2 ** -14;
const F16_SUBNORMAL_STEP = 2 ** -24;

/** `x` rounded to the nearest binary16 value. */
export function f16Round(x: number): number {
  if (Number.isNaN(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= F16_MAX_ROUNDS_DOWN) return Math.sign(x) * Infinity;
  // The spacing of f16 values around a: 2^(e - 10) for normals, 2^-24 below the smallest normal.
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1; // log2 may round up just below a power of two
  const step = a < F16_MIN_NORMAL ? F16_SUBNORMAL_STEP : 2 ** (e - 10);
  const q = a / step; // exact: step is a power of two
  let n = Math.floor(q);
  const frac = q - n;
  if (frac > 0.5 || (frac === 0.5 && n % 2 === 1)) n += 1;
  return Math.sign(x) * n * step;
}

/** A copy of `t` with every element rounded to f16 (an operand as the reduced tiers stage it). */
export function f16RoundTensor(t: HostTensor): HostTensor {
  return { shape: [...t.shape], data: t.data.map(f16Round) };
}
