// timestep.wgsl — sinusoidal timestep embedding of the reference UNet (get_timestep_embedding).
//
// Shapes: t (B) float timesteps; freq (half), half = floor(dim / 2); y (B, dim):
//   y[b, i] = sin(t[b] freq[i]),  y[b, half + i] = cos(t[b] freq[i]),  y[b, dim - 1] = 0 for odd dim.
// y = ; one thread per element of y. No backward: t is not a trained input.
//
// embed_mlp: the whole time-embedding MLP of the UNet in one dispatch, one workgroup per sample n:
//   y[n] = the embedding above (dim = ch),  h[n] = b0 + w0 y[n],  temb[n] = b1 + w1 silu(h[n])
// (temb.dense.0 and temb.dense.1, hid = 4 ch), each stage in workgroup memory, y and h written for
// the backward (linear.wgsl's, per layer) to read. The products are linear.wgsl's forward, fma for
// fma in the same order, so the bits are those of the three dispatches it replaces. Up to
// MLP_DIM_MAX and MLP_HID_MAX (the launcher falls back to those dispatches beyond).
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

// Column c of the embedding of timestep tn: sin, then cos, then (odd dim) a zero.
fn embedding_at(tn: f32, c: u32, half: u32) -> f32 {
  if (c >= 2u * half) { return 0.0; }
  let sc = sincos(tn * freq[c % half]);
  return select(sc.y, sc.x, c < half);
}

// ---- embed_mlp ------------------------------------------------------------------------------------

struct MlpParams {
  dim: u32, half: u32, hid: u32,
  w0: u32, b0: u32, w1: u32, b1: u32,   // float offsets of the layers' weights and biases in mlp_params
}

const MLP_DIM_MAX: u32 = 256u;
const MLP_HID_MAX: u32 = 1024u;

@group(0) @binding(0) var<uniform> M: MlpParams;
@group(0) @binding(4) var<storage, read> mlp_params: array<f32>;
@group(0) @binding(5) var<storage, read_write> mlp_h: array<f32>;
@group(0) @binding(6) var<storage, read_write> mlp_temb: array<f32>;
var<workgroup> mlp_emb: array<f32, MLP_DIM_MAX>;
var<workgroup> mlp_act: array<f32, MLP_HID_MAX>;

@compute @workgroup_size(WG)
fn embed_mlp(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wid.x;
  for (var c = li; c < M.dim; c += WG) {
    let v = embedding_at(t[n], c, M.half);
    mlp_emb[c] = v;
    y[n * M.dim + c] = v;
  }
  workgroupBarrier();
  for (var o = li; o < M.hid; o += WG) {
    var s = mlp_params[M.b0 + o];
    for (var i = 0u; i < M.dim; i++) { s = fma(mlp_params[M.w0 + o * M.dim + i], mlp_emb[i], s); }
    mlp_h[n * M.hid + o] = s;
    mlp_act[o] = s * sigmoid(s);
  }
  workgroupBarrier();
  for (var o = li; o < M.hid; o += WG) {
    var s = mlp_params[M.b1 + o];
    for (var i = 0u; i < M.hid; i++) { s = fma(mlp_params[M.w1 + o * M.hid + i], mlp_act[i], s); }
    mlp_temb[n * M.hid + o] = s;
  }
}

// ---- forward ------------------------------------------------------------------------------------

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let idx = thread_index(wid, nwg, WG, lid.x);
  if (idx >= P.n) { return; }
  y[idx] = embedding_at(t[idx / P.dim], idx % P.dim, P.half);
}
