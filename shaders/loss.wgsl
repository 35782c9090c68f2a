// loss.wgsl — the DDPM training objective around the UNet: forward diffusion, loss, loss gradient.
//
// Shapes (row-major f32): x0, noise, xt, eps, deps (B, C, H, W), n = B*C*H*W elements, per = C*H*W;
// coef (B, 2) = (sqrt(abar_t), sqrt(1 - abar_t)) of each sample's timestep; w (B) the weight of each
// sample's loss (all 1 for the reference's loss; min(SNR_t, gamma) / SNR_t for min-SNR weighting);
// loss (1); partials (ceil(n / CHUNK)), scratch owned by the launcher.
//   q_sample       xt = coef[b, 0] * x0 + coef[b, 1] * noise                                  xt =
//   loss_partial   partials[w] = sum of w[b] (noise - eps)^2 over elements [w CHUNK, (w+1) CHUNK)  partials =
//   loss_final     loss[0] = (sum of partials) * (1 / B): the mean over the batch of the per-sample
//                  weighted sum over (C, H, W), as ermongroup/ddim's noise_estimation_loss       loss =
//   loss_backward  deps = (eps - noise) * (2 / B) * w[b] * weight (weight 1 but for the layered  deps =
//                  chain's optional per-step loss weights), times the dynamic loss scale
//                  scaler[0] with `scaled` (reduce.wgsl FLAG_LOSS_SCALE: the reduced-precision tiers)
// The loss is summed in a fixed order (16 sequential terms per thread, a fixed tree over 256 threads,
// then the partials the same way in one workgroup), so it is bit-identical run to run.
// Nothing is saved for backward: it reads eps and noise again.

struct Params {
  n: u32,          // elements of x0 / eps
  per: u32,        // C*H*W, elements per sample
  nparts: u32,     // partial sums
  inv_batch: f32,  // 1 / B rounded to f32 (times 2 is exact)
  weight: f32,     // loss_backward only
  scaled: u32,     // loss_backward only: 1 multiplies by the loss scale
}

const WG: u32 = 256u;
const PER_THREAD: u32 = 16u;
const CHUNK: u32 = WG * PER_THREAD;   // elements per loss_partial workgroup (the launcher's CHUNK)

@group(0) @binding(0) var<uniform> P: Params;

// ---- q_sample ------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> qs_x0: array<f32>;
@group(0) @binding(2) var<storage, read> qs_noise: array<f32>;
@group(0) @binding(3) var<storage, read> qs_coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> qs_xt: array<f32>;

@compute @workgroup_size(256)
fn q_sample(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wid, nwg, WG, li);
  if (i >= P.n) { return; }
  let b = i / P.per;
  qs_xt[i] = qs_coef[2u * b] * qs_x0[i] + qs_coef[2u * b + 1u] * qs_noise[i];
}

// ---- loss forward: partial sums, then one workgroup for the total --------------------------------

@group(0) @binding(1) var<storage, read> lp_eps: array<f32>;
@group(0) @binding(2) var<storage, read> lp_noise: array<f32>;
@group(0) @binding(3) var<storage, read> lp_w: array<f32>;
@group(0) @binding(4) var<storage, read_write> lp_partials: array<f32>;

@compute @workgroup_size(256)
fn loss_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) li: u32) {
  let w = workgroup_index(wid, nwg);
  var s = 0.0;
  // Consecutive threads read consecutive elements on every iteration.
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = w * CHUNK + j * WG + li;
    if (i < P.n) {
      let d = lp_noise[i] - lp_eps[i];
      s += lp_w[i / P.per] * (d * d);
    }
  }
  let total = workgroup_sum256(li, s);
  if (li == 0u && w < P.nparts) { lp_partials[w] = total; }
}

@group(0) @binding(1) var<storage, read> lf_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> lf_loss: array<f32>;

@compute @workgroup_size(256)
fn loss_final(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < P.nparts; i += WG) { s += lf_partials[i]; }
  let total = workgroup_sum256(li, s);
  if (li == 0u) { lf_loss[0] = total * P.inv_batch; }
}

// ---- loss backward -------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> lb_eps: array<f32>;
@group(0) @binding(2) var<storage, read> lb_noise: array<f32>;
@group(0) @binding(3) var<storage, read> lb_w: array<f32>;
@group(0) @binding(4) var<storage, read_write> lb_deps: array<f32>;
@group(0) @binding(5) var<storage, read> lb_scaler: array<f32>;

@compute @workgroup_size(256)
fn loss_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wid, nwg, WG, li);
  if (i >= P.n) { return; }
  let d = (lb_eps[i] - lb_noise[i]) * (2.0 * P.inv_batch) * (lb_w[i / P.per] * P.weight);
  lb_deps[i] = select(d, d * lb_scaler[0], P.scaled != 0u);
}
