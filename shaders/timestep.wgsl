// timestep.wgsl — sinusoidal timestep embedding of the reference UNet (get_timestep_embedding).
//
// Shapes: t (B) float timesteps; freq (half), half = floor(dim / 2); y (B, dim):
//   y[b, i] = sin(t[b] freq[i]),  y[b, half + i] = cos(t[b] freq[i]),  y[b, dim - 1] = 0 for odd dim.
// y = ; one thread per element of y. No backward: t is not a trained input.
//
// Matching PyTorch to 1e-5 at t up to 999 needs the same float32 argument and an accurate sin/cos:
// - freq comes from the host (src/ref/timestep.ts timestepFrequencies, float32 as PyTorch rounds it),
//   and the argument is the one correctly rounded f32 product t * freq, as in PyTorch.
// - WGSL's sin/cos are only specified on [-pi, pi] (absolute error 2^-11), and the arguments reach
//   ~1000 rad, so sincos() below reduces and evaluates them itself (cephes sinf/cosf):
//     k = round(a * 2/pi),  r = ((a - k P1) - k P2) - k P3  (Cody-Waite),  |r| <= ~pi/4,
//   with pi/2 = P1 + P2 + P3 split so that k P1 and k P2 are exact for |k| < 2^13 (P1 has 8
//   significant bits, P2 11): the subtractions lose nothing and r keeps ~1 ulp. The constants are
//   cephes' DP1..DP3 (a split of pi/4) times 2. Then minimax polynomials on [-pi/4, pi/4]:
//     sin r = r + r z (S0 + z (S1 + z S2)),  cos r = 1 - z/2 + z^2 (C0 + z (C1 + z C2)),  z = r^2,
//   and the quadrant k mod 4 picks (+-sin r, +-cos r). Accurate to a few ulp for |a| < 8192.

struct Params {
  n: u32,      // B * dim
  dim: u32,
  half: u32,
}

const WG: u32 = 64u;
const TWO_OVER_PI: f32 = 0.63661977236758134;
const P1: f32 = 1.5703125;
const P2: f32 = 4.837512969970703125e-4;
const P3: f32 = 7.54978995489188216e-8;
const S0: f32 = -1.6666654611e-1;
const S1: f32 = 8.3321608736e-3;
const S2: f32 = -1.9515295891e-4;
const C0: f32 = 4.166664568298827e-2;
const C1: f32 = -1.388731625493765e-3;
const C2: f32 = 2.443315711809948e-5;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read> freq: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// (sin a, cos a), see the header.
fn sincos(a: f32) -> vec2f {
  let k = round(a * TWO_OVER_PI);
  // fma keeps `a` an operand: a compiler contracting a = t * freq into this subtraction would use
  // the unrounded product, not PyTorch's argument. k P1 is exact, so fused or not, nothing changes.
  let r = (fma(-k, P1, a) - k * P2) - k * P3;
  let z = r * r;
  let s = ((S2 * z + S1) * z + S0) * z * r + r;
  let c = ((C2 * z + C1) * z + C0) * z * z - 0.5 * z + 1.0;
  switch (i32(k) & 3) {
    case 0: { return vec2f(s, c); }
    case 1: { return vec2f(c, -s); }
    case 2: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let idx = thread_index(wid, nwg, WG, lid.x);
  if (idx >= P.n) { return; }
  let b = idx / P.dim;
  let c = idx % P.dim;
  var v = 0.0;
  if (c < 2u * P.half) {
    let sc = sincos(t[b] * freq[c % P.half]);
    v = select(sc.y, sc.x, c < P.half);
  }
  y[idx] = v;
}
