// reduce.wgsl — reductions of the training step: the global L2 norm of all gradients with the clip
// factor of torch.nn.utils.clip_grad_norm_, and the second stage of split reductions (sum_rows).
//
// Shapes: g (n): every gradient tensor of the model in one flat buffer (256-byte-aligned views; the
// padding between them must hold zeros, which it does when the trainer clears the whole buffer);
// partials (ceil(n / CHUNK)), scratch owned by the launcher; out (2) = (norm, scale).
//   sumsq_partial  partials[w] = sum of g^2 over elements [w CHUNK, (w+1) CHUNK)          partials =
//   norm_clip      norm = sqrt(sum of partials)                                           out[0] =
//                  scale = max_norm > 0 ? min(1, max_norm / (norm + 1e-6)) : 1, in f32      out[1] =
// The optimizer multiplies gradients by out[1] as it reads them: no CPU readback, grads unchanged.
//   sum_rows       out[i] += sum over r < rows of src[r * count + i], r in order, one thread per i:
//                  the second stage of the split-K weight gradients (rows = splits) and of the
//                  per-(sample, channel) bias and GroupNorm parameter gradients (rows = batch). Given
//                  the same partials it gives the same bits every run.
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
}

struct RowParams {
  rows: u32,
  count: u32,
}

const WG: u32 = 256u;
const PER_THREAD: u32 = 16u;
const CHUNK: u32 = WG * PER_THREAD;   // elements per sumsq_partial workgroup (the launcher's CHUNK)

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(0) var<uniform> R: RowParams;

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

@compute @workgroup_size(256)
fn norm_clip(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < P.nparts; i += WG) { s += nc_partials[i]; }
  let norm = sqrt(workgroup_sum256(li, s));
  if (li == 0u) {
    nc_out[0] = norm;
    nc_out[1] = select(1.0, min(1.0, P.max_norm / (norm + 1e-6)), P.max_norm > 0.0);
  }
}

@group(0) @binding(1) var<storage, read> sr_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> sr_out: array<f32>;

// Launches of more than 65535 workgroups are split over x and y (kernel.ts grid()).
@compute @workgroup_size(256)
fn sum_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wid, nwg, WG, li);
  if (i >= R.count) { return; }
  var s = 0.0;
  for (var r = 0u; r < R.rows; r++) { s += sr_src[r * R.count + i]; }
  sr_out[i] += s;
}
