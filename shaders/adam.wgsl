// adam.wgsl — one Adam step (torch.optim.Adam, L2 weight decay) and the EMA of the weights, each one
// elementwise pass over the flat parameter buffer.
//
// Shapes: p, g, m, v, ema (n): all parameters (gradients, moments, EMA) of the model in flat buffers of
// one layout; clip (4) = (norm, scale, skipped, loss scale) from reduce.wgsl; step (2) = (lr / bc1, sqrt(bc2)) with
// bc_k = 1 - beta_k^step, rewritten by the launcher's setStep before each step; rate (2) = (rate,
// 1 - rate) of the EMA, rewritten by setRate (a fixed rate, or one that warms up with the step).
// FLAG_SKIPS (the reduced tiers' dynamic loss scale): a step the loss scale skipped is no Adam step,
// as under torch's GradScaler (optimizer.step() is not called, so its step count stays), and the CPU
// does not know which steps were skipped (no readback). So step = (lr, trainer step k) and the
// kernel takes Adam's own count t = k - scaler[3] (the skipped steps so far, reduce.wgsl) and the
// bias corrections 1 - beta^t in f32 on the GPU, as torch's capturable Adam does; beta^t by repeated
// squaring (about 2 log2(t) roundings, where WGSL's pow may lose 2^-21 absolutely).
//   adam        nothing when clip[2] != 0 (a step the loss scale skips: an f16 operand overflowed)
//               gc = g * clip[1] (+ weight_decay * p)                  g is not modified
//               m = lerp(m, gc, 1 - beta1)                             m =
//               v = v * beta2 + (1 - beta2) * gc * gc                  v =
//               p = p - (step[0] * m) / (sqrt(v) / step[1] + eps)      p =
//   ema_update  ema = ema * rate + (1 - rate) * p                      ema =
// The order of operations is torch's single-tensor Adam (torch >= 2.0, which updates m with lerp_,
// addcmul_, then addcdiv_) and EMA's ema.mul_(rate).add_(p, alpha=1 - rate), with every scalar
// rounded to f32 once on the CPU as torch does, so results agree with PyTorch's to a few ulp.

struct AdamParams {
  n: u32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  weight_decay: f32,
  beta1: f32,
  flags: u32,
}

const FLAG_SKIPS: u32 = 1u;

struct EmaParams {
  n: u32,
}

const WG: u32 = 256u;

// ---- adam ----------------------------------------------------------------------------------------

@group(0) @binding(0) var<uniform> A: AdamParams;
@group(0) @binding(1) var<storage, read_write> ad_p: array<f32>;
@group(0) @binding(2) var<storage, read> ad_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> ad_m: array<f32>;
@group(0) @binding(4) var<storage, read_write> ad_v: array<f32>;
@group(0) @binding(5) var<storage, read> ad_clip: array<f32>;
@group(0) @binding(6) var<storage, read> ad_step: array<f32>;
@group(0) @binding(7) var<storage, read> ad_scaler: array<f32>;   // FLAG_SKIPS only

// b^n for an integer n >= 0, by repeated squaring.
fn pow_int(b: f32, n: u32) -> f32 {
  var r = 1.0;
  var x = b;
  for (var e = n; e != 0u; e >>= 1u) {
    if ((e & 1u) != 0u) { r *= x; }
    x *= x;
  }
  return r;
}

// (lr / bc1, sqrt(bc2)) of this step.
fn bias_corrections() -> vec2f {
  if ((A.flags & FLAG_SKIPS) == 0u) { return vec2f(ad_step[0], ad_step[1]); }
  let t = u32(ad_step[1] - ad_scaler[3]);
  return vec2f(ad_step[0] / (1.0 - pow_int(A.beta1, t)), sqrt(1.0 - pow_int(A.beta2, t)));
}

@compute @workgroup_size(256)
fn adam(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wid, nwg, WG, li);
  if (i >= A.n || ad_clip[2] != 0.0) { return; }
  let p = ad_p[i];
  var g = ad_g[i] * ad_clip[1];
  // torch adds the decay term only when weight_decay != 0 (0 * p would turn an inf p into NaN).
  if (A.weight_decay != 0.0) { g = g + A.weight_decay * p; }
  let m0 = ad_m[i];
  let w = A.one_minus_beta1;
  // torch.lerp: the small-weight form is exact at w = 0, the other at w = 1.
  let m = select(g - (g - m0) * (1.0 - w), m0 + w * (g - m0), w < 0.5);
  let v = ad_v[i] * A.beta2 + A.one_minus_beta2 * g * g;
  ad_m[i] = m;
  ad_v[i] = v;
  let bc = bias_corrections();
  ad_p[i] = p - (bc.x * m) / (sqrt(v) / bc.y + A.eps);
}

// ---- ema_update ----------------------------------------------------------------------------------

@group(0) @binding(0) var<uniform> E: EmaParams;
@group(0) @binding(1) var<storage, read_write> em_ema: array<f32>;
@group(0) @binding(2) var<storage, read> em_p: array<f32>;
@group(0) @binding(3) var<storage, read> em_rate: array<f32>;

@compute @workgroup_size(256)
fn ema_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wid, nwg, WG, li);
  if (i >= E.n) { return; }
  em_ema[i] = em_ema[i] * em_rate[0] + em_rate[1] * em_p[i];
}
