// ideal.wgsl — the ideal denoiser: the exact posterior mean of x0 given x_t when x0 is drawn
// uniformly from a data set X of N images (the empirical distribution), and the eps it implies.
//
//   logit[b, i] = -|x_b - sqrt(a_b) X_i|^2 / (2 (1 - a_b))        (a_b = abar at sample b's t)
//   w[b, i]     = softmax_i(logit[b, i])
//   x0[b]       = sum_i w[b, i] X_i                                  (the posterior mean)
//   eps[b]      = (x_b - sqrt(a_b) x0[b]) / sqrt(1 - a_b)           (so DDIM's x0 from eps is x0[b])
//
// Shapes: x (B, D), t (B) timesteps (floats, whole numbers), abar (T), data X (N, D) in [-1, 1],
// scores (B, N) scratch, weights (B, N), x0 (B, D), eps (B, D). D = C H W.
//   scores      scores[b, i] = logit[b, i], summing the squared differences themselves (not
//               |x|^2 - 2<x, X> + |X|^2, which cancels badly when 1 - a_b is small)            scores =
//   softmax     weights[b, :] = softmax(scores[b, :]), the max subtracted first             weights =
//   mean_eps    x0[b, d] = sum_i weights[b, i] X[i, d]; eps[b, d] from it                   x0 =, eps =
// At large t (a_b -> 0) every logit tends to 0 and x0 is the data set's mean image; at small t the
// softmax picks the nearest image. Nothing is saved: the ideal denoiser has no parameters to train.

struct Params {
  batch: u32,
  count: u32,   // N images
  dim: u32,     // D values per image
}

@group(0) @binding(0) var<uniform> P: Params;

@group(0) @binding(1) var<storage, read> sc_x: array<f32>;
@group(0) @binding(2) var<storage, read> sc_t: array<f32>;
@group(0) @binding(3) var<storage, read> sc_abar: array<f32>;
@group(0) @binding(4) var<storage, read> sc_data: array<f32>;
@group(0) @binding(5) var<storage, read_write> sc_scores: array<f32>;

// One thread per (b, i): consecutive threads take consecutive images of one sample.
@compute @workgroup_size(256)
fn scores(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let k = thread_index(wid, nwg, 256u, li);
  if (k >= P.batch * P.count) { return; }
  let b = k / P.count;
  let i = k % P.count;
  let a = sc_abar[u32(sc_t[b])];
  let s = sqrt(a);
  var dist = 0.0;
  for (var d = 0u; d < P.dim; d++) {
    let e = sc_x[b * P.dim + d] - s * sc_data[i * P.dim + d];
    dist += e * e;
  }
  sc_scores[k] = -dist / (2.0 * (1.0 - a));
}

@group(0) @binding(1) var<storage, read> sm_scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> sm_weights: array<f32>;

// One workgroup per sample b: the max over i, then the sum of exp(score - max), then the weights.
@compute @workgroup_size(256)
fn softmax(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let b = workgroup_index(wid, nwg);
  if (b >= P.batch) { return; }
  let row = b * P.count;
  var m = -3.4e38;
  for (var i = li; i < P.count; i += 256u) { m = max(m, sm_scores[row + i]); }
  let top = workgroup_max256(li, m);
  var z = 0.0;
  for (var i = li; i < P.count; i += 256u) { z += exp(sm_scores[row + i] - top); }
  let total = workgroup_sum256(li, z);
  for (var i = li; i < P.count; i += 256u) { sm_weights[row + i] = exp(sm_scores[row + i] - top) / total; }
}

@group(0) @binding(1) var<storage, read> me_x: array<f32>;
@group(0) @binding(2) var<storage, read> me_t: array<f32>;
@group(0) @binding(3) var<storage, read> me_abar: array<f32>;
@group(0) @binding(4) var<storage, read> me_data: array<f32>;
@group(0) @binding(5) var<storage, read> me_weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> me_x0: array<f32>;
@group(0) @binding(7) var<storage, read_write> me_eps: array<f32>;

// One thread per (b, d): consecutive threads read consecutive values of each image.
@compute @workgroup_size(256)
fn mean_eps(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let k = thread_index(wid, nwg, 256u, li);
  if (k >= P.batch * P.dim) { return; }
  let b = k / P.dim;
  let d = k % P.dim;
  var s = 0.0;
  for (var i = 0u; i < P.count; i++) { s += me_weights[b * P.count + i] * me_data[i * P.dim + d]; }
  let a = me_abar[u32(me_t[b])];
  me_x0[k] = s;
  me_eps[k] = (me_x[k] - sqrt(a) * s) / sqrt(1.0 - a);
}
