// rng.wgsl — counter-based random numbers (Philox4x32-10) and dropout, identical to src/ref/rng.ts.
//
// A draw of n values from (seed, stream) at offset: key = (seed, stream), and element e takes lane e & 3
// of the block at counter (e >> 2, offset, 0, 0). One thread computes one block (elements 4q .. 4q+3).
// seed and offset come from the state tensor (4 u32: seed, offset, 0, 0), so a new step's numbers are
// a writeBuffer away; stream is fixed per dispatch (one per use: noise, each dropout layer, ...).
//
// Shapes: state (4) u32; out, x, y, dy, dx (n) f32 (any shape, flat).
//   uniform_fill   out = (f32(word >> 9) + 0.5) * 2^-23, in (0, 1)                     out =
//   gaussian_fill  Box-Muller on lanes (0, 1) and (2, 3):                               out =
//                  r = sqrt(-2 ln u_a),  z_a = r cos(2 pi u_b),  z_b = r sin(2 pi u_b)
//   dropout        y = u_e >= p ? x * scale : 0 with scale = 1 / (1 - p) (f32, from the CPU)
//                  forward: y = x;  backward: dx = dy (+= with FLAG_ACC)              y = / dx = (+=)
//   dropout_f16    the forward with y stored as f16 pairs (gpu/tensor.ts TensorStorage)   y =
//   With FLAG_NORM (forward): x is the input of a GroupNorm (then SiLU with FLAG_NORM_SILU) whose
//   output only this dropout reads, normalised as it is loaded with the table of groupnorm.wgsl
//   `statistics` (binding 4, (B, C) of (mean, rstd, gamma, beta); x is (B, C, hw), so element e's
//   entry is e / hw): the GroupNorm's output is never written (conv2d.wgsl FLAG_NORM's twin).
// Dropout saves nothing: backward regenerates the mask from the same state, stream and element index.
//
// Reproducibility across devices: Philox is u32 arithmetic (mulhi from 16-bit halves, as WGSL has no
// 64-bit multiply) and the uniform conversion is exact (a 23-bit integer plus 0.5 and a multiply by a
// power of two; WGSL's division need not be correctly rounded), so uniform draws are bit-identical
// everywhere. WGSL's log, sin and cos have device-dependent precision (absolute error bounds only), so
// the Gaussian uses its own: cephes logf and sinf/cosf polynomials (about 1 ulp, built only from +, *
// which WGSL rounds correctly) with exact range reduction. What remains device-dependent is sqrt
// (a few ulp in WGSL) and fma contraction, so Gaussians agree to within a few ulp on every device.

struct Params {
  n: u32,       // elements
  stream: u32,  // second key word
  p: f32,       // dropout probability
  scale: f32,   // 1 / (1 - p)
  flags: u32,
  hw: u32,      // FLAG_NORM: values per (sample, channel) plane
}

const FLAG_ACC: u32 = 1u;
const FLAG_NORM: u32 = 2u;
const FLAG_NORM_SILU: u32 = 4u;
const WG: u32 = 256u;

const PHILOX_M0: u32 = 0xd2511f53u;
const PHILOX_M1: u32 = 0xcd9e8d57u;
const PHILOX_W0: u32 = 0x9e3779b9u;
const PHILOX_W1: u32 = 0xbb67ae85u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> rng_state: vec4u;   // (seed, offset, 0, 0)

// High 32 bits of the 64-bit product; the partial products of 16-bit halves stay below 2^32.
fn mulhi(a: u32, b: u32) -> u32 {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let lolo = a_lo * b_lo;
  let lohi = a_lo * b_hi;
  let hilo = a_hi * b_lo;
  let hihi = a_hi * b_hi;
  // Bits 16..47 of the product: the carry out of the middle column adds to the high word.
  let mid = (lolo >> 16u) + (lohi & 0xffffu) + (hilo & 0xffffu);
  return hihi + (lohi >> 16u) + (hilo >> 16u) + (mid >> 16u);
}

fn philox4x32(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let hi0 = mulhi(PHILOX_M0, c.x);
    let lo0 = PHILOX_M0 * c.x;
    let hi1 = mulhi(PHILOX_M1, c.z);
    let lo1 = PHILOX_M1 * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k += vec2u(PHILOX_W0, PHILOX_W1);
  }
  return c;
}

// The four uniforms of block q: the top 23 bits as the centre of one of 2^23 bins, never 0 or 1.
fn uniform_block(q: u32) -> vec4f {
  let words = philox4x32(vec4u(q, rng_state.y, 0u, 0u), vec2u(rng_state.x, P.stream));
  return (vec4f(words >> vec4u(9u)) + 0.5) * (1.0 / 8388608.0);
}

// Natural log of a normal positive x (cephes logf): x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
// a degree-9 polynomial in m - 1 and ln 2 split in two so that e ln 2 adds without rounding error.
fn log_accurate(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  var e = f32(i32(bits >> 23u) - 126);
  var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f000000u);   // [0.5, 1)
  if (m < 0.707106781186547524) { e -= 1.0; m = m + m - 1.0; } else { m = m - 1.0; }
  let z = m * m;
  var y = 7.0376836292e-2;
  y = y * m - 1.1514610310e-1;
  y = y * m + 1.1676998740e-1;
  y = y * m - 1.2420140846e-1;
  y = y * m + 1.4249322787e-1;
  y = y * m - 1.6668057665e-1;
  y = y * m + 2.0000714765e-1;
  y = y * m - 2.4999993993e-1;
  y = y * m + 3.3333331174e-1;
  y = y * m * z;
  y += -2.12194440e-4 * e;
  y += -0.5 * z;
  return m + y + 0.693359375 * e;
}

// (sin, cos) of 2 pi t for t in (0, 1). t is a multiple of 2^-24, so t - q/4 (q the nearest quarter
// turn) is exact and the reduced angle lies in [-pi/4, pi/4], where the cephes sinf/cosf polynomials
// hold; the quadrant then rotates the pair.
fn sincos_turns(t: f32) -> vec2f {
  let q = floor(4.0 * t + 0.5);
  let a = (t - 0.25 * q) * 6.2831853071795865;
  let z = a * a;
  let s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * a + a;
  let c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
  switch (u32(q) & 3u) {
    case 0u: { return vec2f(s, c); }
    case 1u: { return vec2f(c, -s); }
    case 2u: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}

// ---- uniform_fill, gaussian_fill -----------------------------------------------------------------

@group(0) @binding(2) var<storage, read_write> fill_out: array<f32>;

fn store_block(q: u32, vals: vec4f) {
  for (var lane = 0u; lane < 4u; lane++) {
    let e = 4u * q + lane;
    if (e < P.n) { fill_out[e] = vals[lane]; }
  }
}

@compute @workgroup_size(256)
fn uniform_fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) li: u32) {
  let q = thread_index(wid, nwg, WG, li);
  if (4u * q >= P.n) { return; }
  store_block(q, uniform_block(q));
}

@compute @workgroup_size(256)
fn gaussian_fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) li: u32) {
  let q = thread_index(wid, nwg, WG, li);
  if (4u * q >= P.n) { return; }
  let u = uniform_block(q);
  let r01 = sqrt(-2.0 * log_accurate(u.x));
  let r23 = sqrt(-2.0 * log_accurate(u.z));
  let sc1 = sincos_turns(u.y);
  let sc3 = sincos_turns(u.w);
  store_block(q, vec4f(r01 * sc1.y, r01 * sc1.x, r23 * sc3.y, r23 * sc3.x));
}

// ---- dropout (forward and backward) --------------------------------------------------------------

@group(0) @binding(2) var<storage, read> do_src: array<f32>;        // x, or dy in backward
@group(0) @binding(4) var<storage, read> do_table: array<vec4f>;    // FLAG_NORM's table, or a placeholder

// Element e of the source: as stored, or normalised (FLAG_NORM).
fn source(e: u32) -> f32 {
  let v = do_src[e];
  if ((P.flags & FLAG_NORM) != 0u) { return group_norm_value(do_table[e / P.hw], v, (P.flags & FLAG_NORM_SILU) != 0u); }
  return v;
}

// Element e (< n) of the output: the source kept and scaled, or dropped. q = e / 4 indexes the
// uniform block u of its lane.
fn dropped(e: u32, u: vec4f) -> f32 {
  return select(0.0, source(e) * P.scale, u[e % 4u] >= P.p);
}

@group(0) @binding(3) var<storage, read_write> do_dst: array<f32>;  // y, or dx in backward

@compute @workgroup_size(256)
fn dropout(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) li: u32) {
  let q = thread_index(wid, nwg, WG, li);
  if (4u * q >= P.n) { return; }
  let u = uniform_block(q);
  for (var lane = 0u; lane < 4u; lane++) {
    let e = 4u * q + lane;
    if (e >= P.n) { break; }
    let val = dropped(e, u);
    if ((P.flags & FLAG_ACC) != 0u) { do_dst[e] += val; } else { do_dst[e] = val; }
  }
}

// dropout_f16: the forward with y stored as f16 pairs (u32 words; n is even), for a reduced tier's
// convolution to read.
@group(0) @binding(3) var<storage, read_write> do_dst16: array<u32>;

@compute @workgroup_size(256)
fn dropout_f16(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) li: u32) {
  let q = thread_index(wid, nwg, WG, li);
  if (4u * q >= P.n) { return; }
  let u = uniform_block(q);
  for (var pair = 0u; pair < 2u; pair++) {
    let e = 4u * q + 2u * pair;
    if (e >= P.n) { break; }
    do_dst16[e / 2u] = f16_pair(dropped(e, u), dropped(e + 1u, u));
  }
}
