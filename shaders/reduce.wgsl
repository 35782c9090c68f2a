// reduce.wgsl — reductions of the training step: the L2 norm of the gradients with the clip factor of
// torch.nn.utils.clip_grad_norm_, for one group or several (the layered model's per-sub-model
// clipping), and the second stage of split reductions (sum_rows_table).
//
// Shapes: g (n): the gradient tensors of one clip group in one flat buffer (256-byte-aligned views; the
// padding between them must hold zeros, which it does when the trainer clears the whole buffer);
// partials (groups, nparts), scratch owned by the launcher: group k's ceil(n_k / CHUNK) partials, then
// zeros (never written) up to nparts; out (groups, out_stride), of which each group's first 4 floats
// (norm, scale, skipped, loss scale) are used: a 256-byte-aligned view per group.
//   sumsq_partial  partials[w] = sum of g^2 over elements [w CHUNK, (w+1) CHUNK), one   partials[k] =
//                  dispatch per group (bound to its row of partials)
//   norm_clip      per group k: norm = sqrt(sum of its partials)                        out[k, 0] =
//                  scale = max_norm > 0 ? min(1, max_norm / (norm + 1e-6)) : 1, in f32      out[k, 1] =
//                  skipped = 0, loss scale = 1 (without FLAG_LOSS_SCALE)                  out[k, 2..3] =
//                  One dispatch for every group. The zeros after a group's partials leave its sum's
//                  bits as they are (x + 0 = x), so a group's norm is the one it has alone.
// The optimizer multiplies gradients by out[k, 1] as it reads them: no CPU readback, grads unchanged.
//
// FLAG_LOSS_SCALE: the dynamic loss scale of the reduced-precision tiers (torch.cuda.amp.GradScaler's
// rule, decided on the GPU). The gradients were computed from the loss times S = scaler[0] (so that
// small ones survive f16 operands); scaler (4) = (S, good steps since the last change, -, steps
// skipped in all). out[k, 3] = the S this step used. If the scaled norm of any group is not finite
// and S > 1, an f16 operand overflowed: the step is skipped for every group (out[k] = (0, 0, 1, S);
// Adam leaves every parameter and moment alone, and counts only the steps it takes: adam.wgsl
// FLAG_SKIPS) and S halves. One decision for the whole step, as GradScaler's one found_inf: the
// layered model's sub-models share the step and its count. Otherwise out[k, 0] = norm_k / S,
// out[k, 1] = scale_k / S (the optimizer sees the unscaled, clipped gradient), and after
// `growth_interval` good steps in a row S doubles. S is a power of two, so the divisions are exact.
// At S = 1 a non-finite norm is reported as it is: the gradients overflow unscaled, and the trainer
// stops the run (its NaN guard).
//   sum_rows_table the second stage of many split reductions in one dispatch (kernels/reduce.ts
//                  RowSums): the split-K weight gradients' (rows = splits) and the per-(sample,
//                  channel) bias and GroupNorm parameter gradients' (rows = batch). Workgroup row y is
//                  table entry y = (src, rows, count, split, out, out2, stride), float offsets into
//                  sr_src and sr_out, and its thread i computes column i of the entry:
//                    out[i] += sum over r < rows of src[r * stride + i], r in order
//                  (columns from `split` on go to a second output, out2[i - split]: GroupNorm's dw
//                  and db side by side; with one output split = count). The stride is count, or
//                  wider for some columns of longer rows (a stacked convolution's share of the
//                  partial copies of G). Given the same partials it gives the same bits every run,
//                  whatever else the table holds.
//
// Precision: all f32, in a fixed order (bit-identical run to run): each thread adds 16 squares in
// sequence, a workgroup adds its 256 threads as a tree, then one workgroup adds the partials the same
// way (ceil(P / 256) in sequence per thread, then a tree). Every term is >= 0, so the relative error
// of the sum is at most about (16 + 8 + P/256 + 8) * 2^-24: 4e-6 for 36M floats, 2e-6 at 1M; the
// square root halves it. Typical errors are far smaller (rounding errors of mixed sign cancel).

struct Params {
  n: u32,
  nparts: u32,
  max_norm: f32,
  flags: u32,
  growth_interval: u32,
  groups: u32,
  out_stride: u32,
}

const FLAG_LOSS_SCALE: u32 = 1u;

const WG: u32 = 256u;
const PER_THREAD: u32 = 16u;
const CHUNK: u32 = WG * PER_THREAD;   // elements per sumsq_partial workgroup (the launcher's CHUNK)

@group(0) @binding(0) var<uniform> P: Params;

@group(0) @binding(1) var<storage, read> sp_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> sp_partials: array<f32>;

// Launches of more than 65535 workgroups are split over x and y (kernel.ts grid()).
@compute @workgroup_size(256)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) li: u32) {
  let w = workgroup_index(wid, nwg);
  var s = 0.0;
  // Consecutive threads read consecutive elements on every iteration.
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = w * CHUNK + j * WG + li;
    if (i < P.n) { s += sp_g[i] * sp_g[i]; }
  }
  let total = workgroup_sum256(li, s);
  if (li == 0u && w < P.nparts) { sp_partials[w] = total; }
}

@group(0) @binding(1) var<storage, read> nc_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> nc_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> nc_scaler: array<f32>;   // FLAG_LOSS_SCALE only

fn clip_factor(norm: f32) -> f32 {
  return select(1.0, min(1.0, P.max_norm / (norm + 1e-6)), P.max_norm > 0.0);
}

// Not inf or NaN, by the exponent bits (a compiler that assumes finite math may fold comparisons).
fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(256)
fn norm_clip(@builtin(local_invocation_index) li: u32) {
  // Every group's norm first (thread 0 keeps them in out[k, 0]), then one decision for the step.
  var finite = true;
  for (var k = 0u; k < P.groups; k++) {
    var s = 0.0;
    for (var i = li; i < P.nparts; i += WG) { s += nc_partials[k * P.nparts + i]; }
    let norm = sqrt(workgroup_sum256(li, s));
    if (li == 0u) { nc_out[k * P.out_stride] = norm; }
    finite = finite && is_finite(norm);
  }
  if (li != 0u) { return; }
  var scale = 1.0;
  if ((P.flags & FLAG_LOSS_SCALE) != 0u) { scale = nc_scaler[0]; }
  let skip = (P.flags & FLAG_LOSS_SCALE) != 0u && !finite && scale > 1.0;
  for (var k = 0u; k < P.groups; k++) {
    let o = k * P.out_stride;
    let unscaled = nc_out[o] / scale;
    nc_out[o] = select(unscaled, 0.0, skip);
    nc_out[o + 1u] = select(clip_factor(unscaled) / scale, 0.0, skip);
    nc_out[o + 2u] = select(0.0, 1.0, skip);
    nc_out[o + 3u] = scale;
  }
  if ((P.flags & FLAG_LOSS_SCALE) == 0u) { return; }
  if (skip) {
    nc_scaler[0] = scale * 0.5;
    nc_scaler[1] = 0.0;
    nc_scaler[3] += 1.0;
    return;
  }
  let good = nc_scaler[1] + 1.0;
  if (good >= f32(P.growth_interval)) {
    nc_scaler[0] = scale * 2.0;
    nc_scaler[1] = 0.0;
  } else {
    nc_scaler[1] = good;
  }
}

@group(0) @binding(1) var<storage, read> sr_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> sr_out: array<f32>;

// Column i of the partials at float offset src of sr_src, rows `stride` apart, summed over the rows in order.
fn sum_column(src: u32, rows: u32, stride: u32, i: u32) -> f32 {
  var s = 0.0;
  for (var r = 0u; r < rows; r++) { s += sr_src[src + r * stride + i]; }
  return s;
}

const T_SRC: u32 = 0u;
const T_ROWS: u32 = 1u;
const T_COUNT: u32 = 2u;
const T_SPLIT: u32 = 3u;
const T_OUT: u32 = 4u;
const T_OUT2: u32 = 5u;
const T_STRIDE: u32 = 6u;
const TABLE_WORDS: u32 = 7u;   // the launcher's TABLE_WORDS

struct TableParams {
  entries: u32,
}

@group(0) @binding(0) var<uniform> T: TableParams;
@group(0) @binding(3) var<storage, read> st_table: array<u32>;

@compute @workgroup_size(256)
fn sum_rows_table(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  if (wid.y >= T.entries) { return; }
  let t = wid.y * TABLE_WORDS;
  let count = st_table[t + T_COUNT];
  let i = wid.x * WG + li;
  if (i >= count) { return; }
  let s = sum_column(st_table[t + T_SRC], st_table[t + T_ROWS], st_table[t + T_STRIDE], i);
  let split = st_table[t + T_SPLIT];
  if (i < split) { sr_out[st_table[t + T_OUT] + i] += s; } else { sr_out[st_table[t + T_OUT2] + i - split] += s; }
}
