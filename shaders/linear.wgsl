// linear.wgsl — fully connected layers (PyTorch nn.Linear layout) with an optional SiLU fused on
// their input: the time-embedding MLP (temb.dense.0/1) and every ResBlock's temb_proj.
//
// Shapes: x (N, In), w (Out, In), b (Out), y (N, Out); a(x) = FLAG_SILU ? silu(x) : x.
//   forward           y[n, o]  = b[o] + sum_i w[o, i] a(x[n, i]), for several layers that share x
//                     in one dispatch: the table lists each layer's (w, b, y) offsets in the bound
//                     weight, bias and output ranges, its Out and its first column of the stacked
//                     outputs (every ResBlock's temb_proj is one dispatch, not one per block)
//   backward_input    dx[n, i] = a'(x[n, i]) sum_o dy[n, o] w[o, i]                  dx = (+= with FLAG_ACC:
//                     the time embedding fans out to every ResBlock)
//   backward_params   dw[o, i] += sum_n dy[n, o] a(x[n, i]),  db[o] += sum_n dy[n, o]  (parameter
//                     gradients accumulate); one thread per element of the (Out, In+1) matrix [dw | db]
// Forward saves nothing: backward reads the pre-activation input x again.
// Sizes are small (N = batch, In/Out <= 512): one thread per output, looping over the reduced axis.

struct Params {
  n: u32, in_f: u32, out_f: u32, flags: u32, layers: u32,
}

const FLAG_SILU: u32 = 1u;
const FLAG_ACC: u32 = 2u;
const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;

fn act(v: f32) -> f32 {
  if ((P.flags & FLAG_SILU) != 0u) { return v * sigmoid(v); }
  return v;
}

// ---- forward ------------------------------------------------------------------------------------

// out_f is the layers' Out summed; the table holds TABLE_WORDS words per layer.
const TABLE_WORDS: u32 = 5u;
const T_W: u32 = 0u;       // float offset of w in `weight`
const T_B: u32 = 1u;       // of b in `bias`
const T_Y: u32 = 2u;       // of y in `y`
const T_OUT: u32 = 3u;     // Out
const T_FIRST: u32 = 4u;   // its first column among the stacked outputs

@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> table: array<u32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let idx = thread_index(wid, nwg, WG, lid.x);
  if (idx >= P.n * P.out_f) { return; }
  let n = idx / P.out_f;
  let col = idx % P.out_f;
  var l = 0u;
  while (l + 1u < P.layers && col >= table[(l + 1u) * TABLE_WORDS + T_FIRST]) { l++; }
  let t = l * TABLE_WORDS;
  let out_f = table[t + T_OUT];
  let o = col - table[t + T_FIRST];
  let w0 = table[t + T_W] + o * P.in_f;
  var s = bias[table[t + T_B] + o];
  for (var i = 0u; i < P.in_f; i++) { s = fma(weight[w0 + i], act(x[n * P.in_f + i]), s); }
  y[table[t + T_Y] + n * out_f + o] = s;
}

// ---- backward_input -----------------------------------------------------------------------------

@group(0) @binding(3) var<storage, read> bi_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> bi_dx: array<f32>;

@compute @workgroup_size(WG)
fn backward_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_id) lid: vec3u) {
  let idx = thread_index(wid, nwg, WG, lid.x);
  if (idx >= P.n * P.in_f) { return; }
  let n = idx / P.in_f;
  let i = idx % P.in_f;
  var s = 0.0;
  for (var o = 0u; o < P.out_f; o++) { s = fma(bi_dy[n * P.out_f + o], weight[o * P.in_f + i], s); }
  if ((P.flags & FLAG_SILU) != 0u) {
    let v = x[idx];
    let sg = sigmoid(v);
    s *= sg * (1.0 + v * (1.0 - sg));
  }
  if ((P.flags & FLAG_ACC) != 0u) { bi_dx[idx] += s; } else { bi_dx[idx] = s; }
}

// ---- backward_params ----------------------------------------------------------------------------

// x is bound at slot 1 (shared with the forward).
@group(0) @binding(2) var<storage, read> bp_dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> bp_dw: array<f32>;
@group(0) @binding(4) var<storage, read_write> bp_db: array<f32>;

@compute @workgroup_size(WG)
fn backward_params(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_id) lid: vec3u) {
  let idx = thread_index(wid, nwg, WG, lid.x);
  let cols = P.in_f + 1u;
  if (idx >= P.out_f * cols) { return; }
  let o = idx / cols;
  let i = idx % cols;
  var s = 0.0;
  if (i == P.in_f) {
    for (var n = 0u; n < P.n; n++) { s += bp_dy[n * P.out_f + o]; }
    bp_db[o] += s;
  } else {
    for (var n = 0u; n < P.n; n++) { s = fma(bp_dy[n * P.out_f + o], act(x[n * P.in_f + i]), s); }
    bp_dw[o * P.in_f + i] += s;
  }
}
