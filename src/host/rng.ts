// Counter-based random numbers that a WGSL kernel reproduces bit for bit: Philox4x32-10
// (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011; Random123).
// A draw of n values from (seed, stream) at offset uses key = (seed, stream) and, for element e,
// counter = (e >> 2, offset, 0, 0) and output lane e & 3. Distinct offsets never share a counter, so
// successive draws from one stream do not overlap, and every element is computable independently
// (one GPU thread per block of four).
// All integer math is 32-bit: Math.imul for the low word and a mulhi built from 16-bit halves whose
// partial products stay below 2^32, exactly what WGSL u32 arithmetic (which has no 64-bit multiply) does.

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const ROUNDS = 10;

/** High 32 bits of the 64-bit product of two u32. */
function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const lohi = aLo * bHi;
  const hilo = aHi * bLo;
  const hihi = aHi * bHi;
  // Bits 16..47 of the product: the carry out of the middle column adds to the high word.
  const mid = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  return (hihi + (lohi >>> 16) + (hilo >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox4x32-10 block function: four u32 counter words and two u32 key words -> four u32 outputs. */
export function philox4x32(
  counter: [number, number, number, number],
  key: [number, number],
): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((w) => w >>> 0);
  let [k0, k1] = key.map((w) => w >>> 0);
  for (let round = 0; round < ROUNDS; round++) {
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/**
 * u32 -> uniform in (0, 1): (f32(x >> 9) + 0.5) / 2^23. Uses the top 23 bits so that every step is
 * exact in float32: with 24 bits, k + 0.5 needs 25 significant bits and rounds (to 1.0 at the top).
 * Values are the centres of 2^23 equal bins, never 0 (log-safe for Box-Muller) and never 1.
 */
function toUniform(x: number): number {
  return ((x >>> 9) + 0.5) / 8388608;
}

/** The four outputs of the block that holds element e of the draw at (seed, stream, offset). */
function block(seed: number, stream: number, offset: number, e: number): [number, number, number, number] {
  return philox4x32([e >>> 2, offset, 0, 0], [seed, stream]);
}

/** n uniform values in (0, 1); element e is lane e & 3 of block e >> 2. */
export function uniform(seed: number, stream: number, offset: number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let e = 0; e < n; e += 4) {
    const words = block(seed, stream, offset, e);
    for (let lane = 0; lane < 4 && e + lane < n; lane++) out[e + lane] = toUniform(words[lane]);
  }
  return out;
}

/**
 * n standard normal values. Box-Muller on lanes (0, 1) and (2, 3) of each block:
 *   r = sqrt(-2 ln u_a),  z_a = r cos(2 pi u_b),  z_b = r sin(2 pi u_b).
 * When n is not a multiple of 4 the unused lanes of the last block are dropped.
 */
export function gaussian(seed: number, stream: number, offset: number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let e = 0; e < n; e += 4) {
    const u = block(seed, stream, offset, e).map(toUniform);
    const z: number[] = [];
    for (const [a, b] of [[0, 1], [2, 3]]) {
      const r = Math.sqrt(-2 * Math.log(u[a]));
      z.push(r * Math.cos(2 * Math.PI * u[b]), r * Math.sin(2 * Math.PI * u[b]));
    }
    for (let lane = 0; lane < 4 && e + lane < n; lane++) out[e + lane] = z[lane];
  }
  return out;
}
