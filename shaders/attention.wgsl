// attention.wgsl — the single-head attention core: the fused forward, and the row-softmax kernels
// of the unfused forward and of the backward, whose GEMMs (scores = q^T k / sqrt(C), y = v p^T and
// the backward products) run in matmul.wgsl.
//
// Shapes: q, k, v, y (B, C, N); p, ds (B, N, N) row-major, seen as B*N rows of N.
//   forward_fused     scores, softmax and y = v p^T in one dispatch: one workgroup per ROWS query
//                     rows of one sample, the rows' q and probabilities held in workgroup memory
//                     (ROWS * (C + N) <= FUSED_FLOATS; the launcher picks ROWS, or the unfused path).
//                     A latency win: the UNet's attention runs at N = 64..256, where three dispatches
//                     with a grid of a few workgroups each cost more than the arithmetic.
//                     q, k and v are read from one binding (qkv, at q_off, k_off, v_off: the UNet's
//                     stacked q/k/v GEMM writes them into one tensor). With FLAG_PROJ it also applies
//                     the block's proj_out and residual: out = x + b + W y, W (C, C) and b (C) at
//                     w_off and b_off of one binding, y's rows staged where q's were.
//   softmax_forward   p = softmax(p) over each row, in place: p holds the scaled scores on entry
//                     and the probabilities on exit. The row max is subtracted before exp so
//                     large scores cannot overflow.
//   softmax_backward  ds = p * (ds - sum_j p * ds) over each row, in place: ds holds
//                     dP = dy^T v on entry and the gradient wrt the scaled scores on exit.
//   backward_ds_fused dP = dy^T v and softmax_backward in one dispatch, ROWS query rows of one sample
//                     per workgroup as forward_fused (their dy columns and dP rows in workgroup
//                     memory): ds = p * (dP - sum_j p dP). The same sums in the same order as the GEMM
//                     and softmax_backward (c in order, one fma each; the row sum's 64 strided
//                     partials, then the tree), so the same bits, one dispatch fewer per block.
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

// ---- forward_fused: p = softmax(q^T k * scale), y = v p^T, ROWS query rows per workgroup ----------

struct FusedParams {
  batch: u32, c: u32, n: u32, rows: u32, blocks: u32, scale: f32,
  q_off: u32, k_off: u32, v_off: u32, w_off: u32, b_off: u32, flags: u32,
}

const FLAG_PROJ: u32 = 1u;

const FUSED_FLOATS: u32 = 3072u;   // 12 KiB of the 16 KiB every adapter gives a workgroup

@group(0) @binding(0) var<uniform> F: FusedParams;
@group(0) @binding(1) var<storage, read> ff_qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> ff_p: array<f32>;
@group(0) @binding(3) var<storage, read_write> ff_y: array<f32>;
@group(0) @binding(4) var<storage, read> ff_wb: array<f32>;         // proj_out's W and b (FLAG_PROJ)
@group(0) @binding(5) var<storage, read> ff_res: array<f32>;        // x, (B, C, N) (FLAG_PROJ)
@group(0) @binding(6) var<storage, read_write> ff_out: array<f32>;  // (B, C, N) (FLAG_PROJ)

// The block's q columns (rows x C) first, then its score / probability rows (rows x N).
var<workgroup> fused: array<f32, FUSED_FLOATS>;

@compute @workgroup_size(WG)
fn forward_fused(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) li: u32) {
  let block = workgroup_index(wid, nwg);
  if (block >= F.batch * F.blocks) { return; }   // uniform per workgroup: the barriers below stay uniform
  let b = block / F.blocks;
  let i0 = (block % F.blocks) * F.rows;
  let rows = min(F.rows, F.n - i0);
  let C = F.c;
  let N = F.n;
  let qkv = b * C * N;
  let pbase = F.rows * C;
  for (var e = li; e < rows * C; e += WG) {
    let r = e / C;
    fused[e] = ff_qkv[F.q_off + qkv + (e % C) * N + i0 + r];
  }
  workgroupBarrier();
  for (var e = li; e < rows * N; e += WG) {
    let r = e / N;
    let j = e % N;
    var s = 0.0;
    for (var c = 0u; c < C; c++) { s = fma(fused[r * C + c], ff_qkv[F.k_off + qkv + c * N + j], s); }
    fused[pbase + e] = s * F.scale;
  }
  workgroupBarrier();
  for (var r = 0u; r < rows; r++) {
    let row = pbase + r * N;
    var m = -3.402823e38;
    for (var j = li; j < N; j += WG) { m = max(m, fused[row + j]); }
    m = workgroup_max(li, m);
    var s = 0.0;
    for (var j = li; j < N; j += WG) { s += exp(fused[row + j] - m); }
    let inv = 1.0 / workgroup_sum(li, s);
    let out = (b * N + i0 + r) * N;
    for (var j = li; j < N; j += WG) {
      let pj = exp(fused[row + j] - m) * inv;
      fused[row + j] = pj;
      ff_p[out + j] = pj;
    }
  }
  workgroupBarrier();
  // y[c, i0 + r] = sum_j v[c, j] p[r, j]; with FLAG_PROJ also into q's place, as fused[r * C + c]
  let proj = (F.flags & FLAG_PROJ) != 0u;
  for (var e = li; e < rows * C; e += WG) {
    let c = e / rows;
    let r = e % rows;
    var s = 0.0;
    for (var j = 0u; j < N; j++) { s = fma(ff_qkv[F.v_off + qkv + c * N + j], fused[pbase + r * N + j], s); }
    ff_y[qkv + c * N + i0 + r] = s;
    if (proj) { fused[r * C + c] = s; }
  }
  if (!proj) { return; }
  workgroupBarrier();
  // out[c, i0 + r] = x[c, i0 + r] + b[c] + sum_c' W[c, c'] y[c', i0 + r]
  for (var e = li; e < rows * C; e += WG) {
    let c = e / rows;
    let r = e % rows;
    var s = ff_wb[F.b_off + c];
    for (var k = 0u; k < C; k++) { s = fma(ff_wb[F.w_off + c * C + k], fused[r * C + k], s); }
    let at = qkv + c * N + i0 + r;
    ff_out[at] = ff_res[at] + s;
  }
}

// ---- backward_ds_fused: ds = p * (dP - rowsum(p * dP)), dP = dy^T v, ROWS query rows per workgroup ---

struct DsParams {
  batch: u32, c: u32, n: u32, rows: u32, blocks: u32,
}

@group(0) @binding(0) var<uniform> D: DsParams;
@group(0) @binding(1) var<storage, read> bd_dy: array<f32>;         // (B, C, N)
@group(0) @binding(2) var<storage, read> bd_v: array<f32>;          // (B, C, N)
@group(0) @binding(3) var<storage, read> bd_p: array<f32>;          // (B, N, N)
@group(0) @binding(4) var<storage, read_write> bd_ds: array<f32>;   // (B, N, N)

@compute @workgroup_size(WG)
fn backward_ds_fused(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_index) li: u32) {
  let block = workgroup_index(wid, nwg);
  if (block >= D.batch * D.blocks) { return; }   // uniform per workgroup: the barriers below stay uniform
  let b = block / D.blocks;
  let i0 = (block % D.blocks) * D.rows;
  let rows = min(D.rows, D.n - i0);
  let C = D.c;
  let N = D.n;
  let base = b * C * N;
  let dpbase = D.rows * C;
  // The block's dy columns, then its dP rows: dP[r, j] = sum_c dy[c, i0 + r] v[c, j].
  for (var e = li; e < rows * C; e += WG) { fused[e] = bd_dy[base + (e % C) * N + i0 + e / C]; }
  workgroupBarrier();
  for (var e = li; e < rows * N; e += WG) {
    let r = e / N;
    let j = e % N;
    var s = 0.0;
    for (var c = 0u; c < C; c++) { s = fma(fused[r * C + c], bd_v[base + c * N + j], s); }
    fused[dpbase + e] = s;
  }
  workgroupBarrier();
  for (var r = 0u; r < rows; r++) {
    let row = dpbase + r * N;
    let out = (b * N + i0 + r) * N;
    var d = 0.0;
    for (var j = li; j < N; j += WG) { d += bd_p[out + j] * fused[row + j]; }
    d = workgroup_sum(li, d);
    for (var j = li; j < N; j += WG) { bd_ds[out + j] = bd_p[out + j] * (fused[row + j] - d); }
  }
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
