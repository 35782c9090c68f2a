// IEEE binary16 values decoded to numbers: F16 tensors in safetensors files, and activations the
// reduced tiers store as f16 pairs in u32 words (gpu/tensor.ts readTensors).

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
