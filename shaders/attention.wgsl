// attention.wgsl — the row-softmax kernels of the single-head attention core; its GEMMs
// (scores = q^T k / sqrt(C), y = v p^T and the backward products) run in matmul.wgsl.
//
// Shapes: p, ds (B, N, N) row-major, seen here as B*N rows of N; one workgroup per row.
//   softmax_forward   p = softmax(p) over each row, in place: p holds the scaled scores on entry
//                     and the probabilities on exit. The row max is subtracted before exp so
//                     large scores cannot overflow.
//   softmax_backward  ds = p * (ds - sum_j p * ds) over each row, in place: ds holds
//                     dP = dy^T v on entry and the gradient wrt the scaled scores on exit.
// Forward saves p (B, N, N): backward reads it here and for dv = dy p.

struct Params {
  rows: u32, cols: u32,
}

// 64 threads per row: rows are H*W long (64 to 1024 in the UNet), so each thread still reads several
// values, and the reductions take 6 barrier rounds (CPU implementations pay per invocation per barrier).
const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> P: Params;

var<workgroup> red: array<f32, WG>;

// Tree reductions over the workgroup; every thread gets the result. The trailing barrier keeps
// the next reduction from overwriting red[0] before every thread has read it.
fn workgroup_max(li: u32, x: f32) -> f32 {
  red[li] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] = max(red[li], red[li + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn workgroup_sum(li: u32, x: f32) -> f32 {
  red[li] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// ---- softmax_forward: p = softmax over each row, in place ----------------------------------------

@group(0) @binding(1) var<storage, read_write> sf_p: array<f32>;

// The launcher splits rows over grid x and y (kernel.ts grid()) to stay under the per-dimension limit.
@compute @workgroup_size(WG)
fn softmax_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) li: u32) {
  let row = workgroup_index(wid, nwg);
  if (row >= P.rows) { return; }
  let base = row * P.cols;
  var m = -3.402823e38;   // the lowest f32: WGSL has no -inf literal
  for (var j = li; j < P.cols; j += WG) { m = max(m, sf_p[base + j]); }
  m = workgroup_max(li, m);
  var s = 0.0;
  for (var j = li; j < P.cols; j += WG) { s += exp(sf_p[base + j] - m); }
  let inv = 1.0 / workgroup_sum(li, s);
  for (var j = li; j < P.cols; j += WG) { sf_p[base + j] = exp(sf_p[base + j] - m) * inv; }
}

// ---- softmax_backward: ds = p * (ds - rowsum(p * ds)), in place on ds ----------------------------

@group(0) @binding(1) var<storage, read> sb_p: array<f32>;
@group(0) @binding(2) var<storage, read_write> sb_ds: array<f32>;

@compute @workgroup_size(WG)
fn softmax_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_index) li: u32) {
  let row = workgroup_index(wid, nwg);
  if (row >= P.rows) { return; }
  let base = row * P.cols;
  var d = 0.0;
  for (var j = li; j < P.cols; j += WG) { d += sb_p[base + j] * sb_ds[base + j]; }
  d = workgroup_sum(li, d);
  for (var j = li; j < P.cols; j += WG) { sb_ds[base + j] = sb_p[base + j] * (sb_ds[base + j] - d); }
}
