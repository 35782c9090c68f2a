// IEEE binary16 on the host: values decoded to numbers (F16 tensors in safetensors files, and
// activations the reduced tiers store as f16 pairs in u32 words, gpu/tensor.ts readTensors), and
// numbers rounded and encoded (F16 safetensors written, the CPU reference of the reduced tiers'
// operands). A value becomes the nearest f16 (ties to even), subnormals included; magnitudes from
// 65520 up overflow to +-inf; NaN stays NaN.

function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** All 65536 half floats as f32, built on first use: decoding a table lookup per element keeps an F16
 *  model's load (the bundled one) a few milliseconds instead of ~75 ms of arithmetic. */
let f16Table: Float32Array | undefined;
export function f16Values(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) f16Table[bits] = f16ToF32(bits);
  }
  return f16Table;
}

/** The first `count` values of f16 pairs packed into u32 words (element 2i in word i's low half). */
export function unpackF16Pairs(words: Uint32Array, count: number): Float32Array {
  const table = f16Values();
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = table[(words[i >> 1]! >>> ((i & 1) * 16)) & 0xffff]!;
  return out;
}

/** The smallest magnitude that rounds to f16 infinity: the midpoint between 65504 (f16's largest) and 65536 (ties go up). */
export const F16_OVERFLOW = 65520;
const F16_MIN_NORMAL = 2 ** -14;
const F16_SUBNORMAL_STEP = 2 ** -24;

/** floor(log2(a)) for a > 0, exactly: log2 may round up just below a power of two. */
function exponentOf(a: number): number {
  const e = Math.floor(Math.log2(a));
  return 2 ** e > a ? e - 1 : e;
}

/** `x` rounded to the nearest binary16 value. */
export function f16Round(x: number): number {
  if (Number.isNaN(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= F16_OVERFLOW) return Math.sign(x) * Infinity;
  // The spacing of f16 values around a: 2^(e - 10) for normals, 2^-24 below the smallest normal.
  const e = exponentOf(a);
  const step = a < F16_MIN_NORMAL ? F16_SUBNORMAL_STEP : 2 ** (e - 10);
  const q = a / step; // exact: step is a power of two
  let n = Math.floor(q);
  const frac = q - n;
  if (frac > 0.5 || (frac === 0.5 && n % 2 === 1)) n += 1;
  return Math.sign(x) * n * step;
}

/** The binary16 bits of `x` rounded to the nearest f16 (f16Round); NaN is the quiet NaN 0x7e00. */
export function f16Bits(x: number): number {
  const r = f16Round(x);
  if (Number.isNaN(r)) return 0x7e00;
  const sign = r < 0 || Object.is(r, -0) ? 0x8000 : 0;
  const a = Math.abs(r);
  if (a === Infinity) return sign | 0x7c00;
  if (a < F16_MIN_NORMAL) return sign | (a / F16_SUBNORMAL_STEP); // zero and subnormals: exact multiples of the step
  const e = exponentOf(a);
  return sign | ((e + 15) << 10) | ((a / 2 ** e - 1) * 1024);
}
