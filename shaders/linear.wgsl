// linear.wgsl — fully connected layers (PyTorch nn.Linear layout) with an optional SiLU fused on
// their input: the time-embedding MLP (temb.dense.0/1) and every ResBlock's temb_proj.
//
// Shapes: x (N, In), w (Out, In), b (Out), y (N, Out); a(x) = FLAG_SILU ? silu(x) : x.
// Every entry runs several layers that share x in one dispatch (every ResBlock's temb_proj is one
// dispatch each way, not one per block; a lone layer is a table of one): the table lists each
// layer's offsets in the bound ranges (w, b or db, y or dy, dw), its Out and its first row among the
// stacked outputs.
//   forward           y[n, o]  = b[o] + sum_i w[o, i] a(x[n, i])
//   backward          both gradients, independent of each other, in one dispatch: workgroups below
//                     param_groups compute the parameters', the rest (none without dx) the input's:
//     parameters      dw[o, i] += sum_n dy[n, o] a(x[n, i]),  db[o] += sum_n dy[n, o]  (parameter
//                     gradients accumulate); one thread per element of each layer's (Out, In+1) [dw | db]
//     input           dx[n, i] = sum over the layers in table order of a'(x[n, i]) sum_o dy[n, o] w[o, i]
//                     dx = (+= with FLAG_ACC: the time embedding fans out elsewhere too); each
//                     layer's term added as its own dispatch would add it, so the bits are those of
//                     one dispatch per layer in table order
//                     One dispatch where there were two: the time-embedding MLP's backward is a chain of
//                     tiny dependent dispatches at any batch.
// Forward saves nothing: backward reads the pre-activation input x again.
// Sizes are small (N = batch, In/Out <= 512): one thread per output, looping over the reduced axis.

struct Params {
  n: u32, in_f: u32, out_f: u32, flags: u32, layers: u32, param_groups: u32,
}

const FLAG_SILU: u32 = 1u;
const FLAG_ACC: u32 = 2u;
const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> table: array<u32>;   // TABLE_WORDS per layer
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;        // forward and backward_input

fn act(v: f32) -> f32 {
  if ((P.flags & FLAG_SILU) != 0u) { return v * sigmoid(v); }
  return v;
}

// ---- the layer table -----------------------------------------------------------------------------

// out_f is the layers' Out summed; the table holds TABLE_WORDS words per layer.
const TABLE_WORDS: u32 = 6u;
const T_W: u32 = 0u;       // float offset of w in `weight`
const T_B: u32 = 1u;       // of b in `bias` (forward), of db in bp_grads (backward_params)
const T_Y: u32 = 2u;       // of y in `y` (forward), of dy in the dy binding (backward)
const T_DW: u32 = 3u;      // of dw in bp_grads (backward_params)
const T_OUT: u32 = 4u;     // Out
const T_FIRST: u32 = 5u;   // its first row among the stacked outputs

// The table offset of the layer that holds stacked row `row`.
fn layer_of(row: u32) -> u32 {
  var l = 0u;
  while (l + 1u < P.layers && row >= table[(l + 1u) * TABLE_WORDS + T_FIRST]) { l++; }
  return l * TABLE_WORDS;
}

// ---- forward ------------------------------------------------------------------------------------

@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let idx = thread_index(wid, nwg, WG, lid.x);
  if (idx >= P.n * P.out_f) { return; }
  let n = idx / P.out_f;
  let col = idx % P.out_f;
  let t = layer_of(col);
  let out_f = table[t + T_OUT];
  let o = col - table[t + T_FIRST];
  let w0 = table[t + T_W] + o * P.in_f;
  var s = bias[table[t + T_B] + o];
  for (var i = 0u; i < P.in_f; i++) { s = fma(weight[w0 + i], act(x[n * P.in_f + i]), s); }
  y[table[t + T_Y] + n * out_f + o] = s;
}

// ---- backward: the parameter gradients' workgroups, then the input gradient's ------------------------

@group(0) @binding(4) var<storage, read> b_dy: array<f32>;
// dw and db in one binding (the flat gradients: a layer's dw and db are neighbours, and writable
// bindings must not overlap).
@group(0) @binding(5) var<storage, read_write> b_grads: array<f32>;
@group(0) @binding(6) var<storage, read_write> b_dx: array<f32>;

fn param_gradient(idx: u32) {
  let cols = P.in_f + 1u;
  if (idx >= P.out_f * cols) { return; }
  let row = idx / cols;
  let i = idx % cols;
  let t = layer_of(row);
  let out_f = table[t + T_OUT];
  let o = row - table[t + T_FIRST];
  let dy0 = table[t + T_Y] + o;
  var s = 0.0;
  if (i == P.in_f) {
    for (var n = 0u; n < P.n; n++) { s += b_dy[dy0 + n * out_f]; }
    b_grads[table[t + T_B] + o] += s;
  } else {
    for (var n = 0u; n < P.n; n++) { s = fma(b_dy[dy0 + n * out_f], act(x[n * P.in_f + i]), s); }
    b_grads[table[t + T_DW] + o * P.in_f + i] += s;
  }
}

fn input_gradient(idx: u32) {
  if (idx >= P.n * P.in_f) { return; }
  let n = idx / P.in_f;
  let i = idx % P.in_f;
  var da = 1.0;
  if ((P.flags & FLAG_SILU) != 0u) {
    let v = x[idx];
    let sg = sigmoid(v);
    da = sg * (1.0 + v * (1.0 - sg));
  }
  var acc = 0.0;
  if ((P.flags & FLAG_ACC) != 0u) { acc = b_dx[idx]; }
  for (var l = 0u; l < P.layers; l++) {
    let t = l * TABLE_WORDS;
    let out_f = table[t + T_OUT];
    let dy0 = table[t + T_Y] + n * out_f;
    let w0 = table[t + T_W] + i;
    var s = 0.0;
    for (var o = 0u; o < out_f; o++) { s = fma(b_dy[dy0 + o], weight[w0 + o * P.in_f], s); }
    acc += s * da;
  }
  b_dx[idx] = acc;
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let w = workgroup_index(wid, nwg);
  if (w < P.param_groups) { param_gradient(w * WG + lid.x); } else { input_gradient((w - P.param_groups) * WG + lid.x); }
}
