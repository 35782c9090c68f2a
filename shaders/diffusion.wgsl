// diffusion.wgsl — one reverse diffusion step (DDIM generalized or DDPM ancestral) from coefficients.
//
// Shapes: xt, eps, noise, x_next, x0 all (N, C, H, W), flat n elements. Per element:
//   x0     = k0 * xt - k1 * eps;   x0 = clamp(x0, -1, 1) with FLAG_CLIP
//   eps'   = FLAG_CLIPPED_EPS ? (xt - sqrt_at * x0) / sqrt_1m_at : eps
//   x_next = a * x0 + b * xt + c * noise + d * eps'      (noise read only with FLAG_NOISE)
// The coefficients per sampler and step are computed on the host (src/diffusion/samplers.ts).
// Outputs: x_next =, x0 = . Nothing is saved (sampling needs no backward).

struct Params {
  n: u32, flags: u32, k0: f32, k1: f32,
  sqrt_at: f32, sqrt_1m_at: f32, a: f32, b: f32,
  c: f32, d: f32,
}

const FLAG_CLIP: u32 = 1u;
const FLAG_CLIPPED_EPS: u32 = 2u;
const FLAG_NOISE: u32 = 4u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> xt: array<f32>;
@group(0) @binding(2) var<storage, read> eps: array<f32>;
@group(0) @binding(3) var<storage, read> noise: array<f32>;
@group(0) @binding(4) var<storage, read_write> x_next: array<f32>;
@group(0) @binding(5) var<storage, read_write> x0: array<f32>;

@compute @workgroup_size(256)
fn step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wid, nwg, 256u, li);
  if (i >= P.n) { return; }
  let x = xt[i];
  var p = P.k0 * x - P.k1 * eps[i];
  if ((P.flags & FLAG_CLIP) != 0u) { p = clamp(p, -1.0, 1.0); }
  var e = eps[i];
  if ((P.flags & FLAG_CLIPPED_EPS) != 0u) { e = (x - P.sqrt_at * p) / P.sqrt_1m_at; }
  var z = 0.0;
  if ((P.flags & FLAG_NOISE) != 0u) { z = noise[i]; }
  x0[i] = p;
  x_next[i] = P.a * p + P.b * x + P.c * z + P.d * e;
}
