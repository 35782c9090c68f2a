// conv2d.wgsl — 2-D convolution as an implicit GEMM, forward and backward.
//
// Shapes (NCHW, row-major f32):
//   x  (B, Ci, H, W)      w  (Co, Ci, K, K)      bias (Co)
//   y  (B, Co, OH, OW)    OH = (H + padT + padB - K) / stride + 1 (padB/padR are implied by OH/OW)
// Geometries used by the UNet: 3x3 stride 1 pad 1; 3x3 stride 2 after a (0,1,0,1) zero pad
// (the downsample: padT = padL = 0, OH = H/2); 1x1 (K = 1, pad 0).
//
// Three tiled GEMMs  C[M, N] = sum_k A[M, k] * Bm[k, N]  on gemm.wgsl's microkernel (ROWS x TN output
// tiles, 16-deep K slices of vec4s in workgroup memory, 4x4 or 8x4 outputs per thread):
//   forward          M = Co, N = B*OH*OW, K = Ci*K*K    A = w,            Bm = im2col(x)
//   input gradient   M = Ci, N = B*H*W,   K = Co*K*K    A = w (permuted), Bm = col2im gather of dy
//   weight gradient  M = Co, N = Ci*K*K (+1: FLAG_DB), K = B*OH*OW   A = dy,   Bm = im2col(x) transposed
// Entry points: `forward`, and `backward`, whose grid holds both backward GEMMs of a convolution side
// by side (they read the same dy and are independent): workgroups below `input_tiles` compute tiles of
// the input gradient, the next `weight_tiles` those of the weight gradient, and the last
// `plane_groups` the bias gradient's per-sample sums where it is not in the GEMM (below); any count
// may be 0. One dispatch where there were three: at batch 1 the backward is a chain of small
// dependent dispatches, and the grids together fill more of a GPU than any of them.
// The weight gradient's output is small (dozens of tiles) and its K long (B*OH*OW, 16k at batch 64,
// 16 px), so it is split-K: `splits` slices of `k_chunk` reduction indices each; with one split it
// adds into dw directly, with more each slice writes its partial dw to `partial[z]` (a take of a
// RowSums, kernels/reduce.ts) and reduce.wgsl's sum_rows_table adds the slices into dw in a fixed
// order (deterministic; no float atomics), in one dispatch with the slices of other convolutions.
// FLAG_DB (weight gradient): the bias gradient db[co] = sum over (b, oy, ox) of dy is the same GEMM's
// column N = Ci*K*K, a column of ones in Bm: no pass of its own over dy. The launcher sets it in the
// fp32 tier where the last column tile has room (Ci*K*K not a multiple of TN) or the grid is small
// enough for a column of tiles more (kernels/conv2d.ts conv2dBiasInGemm).
// Plane sums (backward, where FLAG_DB does not apply: the reduced tiers, and large grids whose last
// column tile has no room): sums[b, co] = dy summed over (OH, OW), the first stage of db, whose second
// is the sum over the batch (kernels/reduce.ts RowSums), written to binding 8 (stacked convolution
// g's at g * plane_gstride). Each plane is summed by
// PLANE_LANES threads, strided partials then a pairwise tree: the order groupnorm.wgsl's FLAG_PLANE
// uses too (src/ref/plane-sums.ts reproduces its bits).
//
// Outputs: forward   y  = conv + bias (+ chan[b, co] if FLAG_CHAN, the time embedding projection)
//                         (+ res[same index] if FLAG_RES, the residual connection);
//          backward  dx = (+= with FLAG_ACC: x fans out elsewhere too);
//                    dw += (parameter gradients accumulate), db += with FLAG_DB, or with several
//                    splits partial[z] = per slice: dw's Co*Ci*K*K values, then db's Co;
//                    plane sums (B, Co) = with plane_groups.
// Forward saves nothing: backward reads the forward input x again.
// Two more fusions in the forward GEMM:
//   stacked   G convolutions of the same x (the attention's q, k and v) as one GEMM of M = G*Co rows:
//             convolution g's weights and bias sit w_gstride and b_gstride floats after the first
//             (w and bias bind spans of the flat parameters) and its output is the y view at
//             g * y_gstride: y is (G, B, Co, OH, OW), each slot aligned. Their backward is one dispatch
//             too: the input gradient's K runs over all G*Co output channels (dy bound as a span,
//             convolution g's at g * y_gstride), the weight gradient has G*Co rows (with one split,
//             dw and db in one span of the flat gradients at binding 7, convolution g's at w_off +
//             g * w_gstride and b_off + g * b_gstride: writable bindings may not overlap; with
//             several, a slice's partial copy holds the G*Co rows of dw, then the G*Co of db), and
//             the plane sums run over all G*B*Co planes (convolution g's at g * plane_gstride).
//   shortcut  a 1x1 convolution of another input sc_x (B, sc_cin, OH, OW) summed into the same
//             outputs (the ResBlock's nin_shortcut added to conv2): K grows by sc_cin, whose A
//             columns are the shortcut's weights (at sc_w_off in w's span) and whose B rows are sc_x's
//             pixels; its bias (at sc_b_off in bias's span) is added in the epilogue. Stride 1 only.
// Two-part inputs: the UNet's skip concatenation is never written out. An input concatenated along
// channels is read from two tensors: channels below ca (sc_ca for the shortcut's input) from the
// first binding, the rest from in_x2. That is the weight gradient's x (in_x, in_x2), the forward's
// normalised x (FLAG_NORM, below; never with a two-part shortcut) and the forward shortcut's sc_x
// (in_c, in_x2); the input gradient then goes to dx and dx2 alike (without FLAG_NORM). With one
// tensor, ca = cin (sc_ca = sc_cin) and in_x2 (dx2) is a placeholder.
// FLAG_NORM (forward, backward; with FLAG_NORM_SILU, then SiLU): the convolution's input is the
// GroupNorm of x, normalised as it is loaded (common.wgsl group_norm_value, with the (mean, rstd,
// gamma, beta) of norm_table[b * Ci + ci] that groupnorm.wgsl `statistics` wrote), never written out:
// the same values as a GroupNorm dispatch's output, for the forward's and the weight gradient's
// gathers. x may have two parts (the up path's skip concatenation, normalised by its ResBlock's
// norm1); the input gradient is then the gradient wrt the normalised input, one tensor dx (B, Ci, H,
// W), which the GroupNorm's backward takes. The table's binding (9) is declared by the launcher
// (kernels/conv2d.ts) with x_value, the load's last step: identity without FLAG_NORM, so modules
// without the table keep 8 storage bindings (the adapters whose limit is 8 run them).
// FLAG_UP2 (forward, backward): x is (B, Ci, H/2, W/2) and the convolution runs over its nearest 2x
// upsampling (the UNet's upsample, never written out); H, W are the upsampled sizes, and the input
// gradient dx is the gradient wrt the upsampled input (resample.wgsl sums it down).
//
// No runtime integer division in a GEMM's K loop (GPUs have no divide instruction; one costs ~20
// instructions): kernel size and stride are pipeline constants, so the forward's and the input
// gradient's divisions by them (and by KK) are multiplies; the weight gradient's K index (b, oy, ox)
// walks the batch's pixels, so each thread carries its position from one K slice to the next
// (kpos_advance) instead of dividing by runtime sizes. Divisions by runtime sizes happen once per
// thread, before the loop. (Spatial sizes as pipeline constants would do too, but would multiply
// the pipelines to compile by the number of resolutions.)
//
// The three GEMMs share one main loop (gemm); they differ in which tensors feed operands A and B
// (forward (w, x), input gradient (w, dy), weight gradient (dy, x), from bindings 1 to 4), in how an
// element of each operand is gathered (load_a, load_b: `mode` is a constant at every call site),
// and in their epilogues.

struct Params {
  batch: u32, cin: u32, h: u32, w: u32,
  cout: u32, oh: u32, ow: u32, pad_t: u32,
  pad_l: u32, flags: u32, k_chunk: u32, splits: u32,
  groups: u32, y_gstride: u32, w_off: u32, w_gstride: u32,
  b_off: u32, b_gstride: u32, sc_cin: u32, sc_w_off: u32,
  sc_b_off: u32, ca: u32, sc_ca: u32, input_tiles: u32,
  weight_tiles: u32, plane_groups: u32, plane_gstride: u32,
}

override KSIZE: u32 = 3u;
override STRIDE: u32 = 1u;
override KK: u32 = KSIZE * KSIZE;

const FLAG_BIAS: u32 = 1u;
const FLAG_CHAN: u32 = 2u;
const FLAG_RES: u32 = 4u;
const FLAG_ACC: u32 = 8u;
const FLAG_UP2: u32 = 16u;
const FLAG_SHORTCUT: u32 = 32u;
const FLAG_DB: u32 = 64u;
const FLAG_NORM: u32 = 128u;
const FLAG_NORM_SILU: u32 = 256u;

@group(0) @binding(0) var<uniform> P: Params;

// ---- the shared GEMM ----------------------------------------------------------------------------

const FORWARD: u32 = 0u;
const BACKWARD_INPUT: u32 = 1u;
const BACKWARD_WEIGHT: u32 = 2u;

// The GEMMs' inputs, by role (the loop below names all four for every GEMM; the outputs follow at
// binding 5). A two-part input's second part is in_x2, or a placeholder.
@group(0) @binding(1) var<storage, read> in_w: array<f32>;    // w (the forward: a span of the weights)
// Binding 2, in_x: x, or its first part. Its declaration comes from the launcher (kernels/conv2d.ts),
// with in_x_at(i), its element i: array<f32>, or f16 pairs in u32 words where x is stored as f16 (a
// GroupNorm's output in the reduced tiers, whose GEMMs round it to f16 as they stage it anyway).
// Binding 3: the forward's shortcut input sc_x (FLAG_SHORTCUT); the backward's dy.
@group(0) @binding(3) var<storage, read> in_c: array<f32>;
@group(0) @binding(4) var<storage, read> in_x2: array<f32>;

// The output extent (m, n) and the reduction range [k0, k1) of one workgroup (split z of the weight
// gradient).
struct Gemm { m: u32, n: u32, k0: u32, k1: u32 }

fn gemm_dims(mode: u32, z: u32) -> Gemm {
  switch (mode) {
    case FORWARD: { return Gemm(P.groups * P.cout, P.batch * P.oh * P.ow, 0u, P.cin * KK + P.sc_cin); }
    case BACKWARD_INPUT: { return Gemm(P.cin, P.batch * P.h * P.w, 0u, P.groups * P.cout * KK); }
    default: {
      let k = P.batch * P.oh * P.ow;
      return Gemm(P.groups * P.cout, P.cin * KK + db_columns(), z * P.k_chunk, min(k, (z + 1u) * P.k_chunk));
    }
  }
}

// (convolution, output channel) of channel gco of G stacked convolutions' G*Co: compares and
// subtractions (G <= 3), no division.
fn group_of(gco: u32) -> vec2u {
  var g = 0u;
  var co = gco;
  while (co >= P.cout) { co -= P.cout; g += 1u; }
  return vec2u(g, co);
}

// dy[b, gco, oy, ox] of the (stacked) convolutions' output gradients (binding 3, in_c).
fn dy_at(b: u32, gco: u32, oy: u32, ox: u32) -> f32 {
  let gc = group_of(gco);
  return in_c[gc.x * P.y_gstride + ((b * P.cout + gc.y) * P.oh + oy) * P.ow + ox];
}

// The weight gradient's reduction index k = (b, oy, ox), carried by each thread from one K slice to the
// next (k += TK) with compares and subtractions only.
struct KPos { b: u32, oy: u32, ox: u32 }

fn kpos_at(k: u32) -> KPos {
  let ohw = P.oh * P.ow;
  let p = k % ohw;
  return KPos(k / ohw, p / P.ow, p % P.ow);
}

fn kpos_advance(q: KPos) -> KPos {
  var r = q;
  r.ox += TK;
  while (r.ox >= P.ow) { r.ox -= P.ow; r.oy += 1u; }   // once per slice when OW >= 16
  while (r.oy >= P.oh) { r.oy -= P.oh; r.b += 1u; }
  return r;
}

// A[m, k] (caller checks bounds); q is k's position (read by the weight gradient only).
fn load_a(mode: u32, m: u32, k: u32, q: KPos) -> f32 {
  switch (mode) {
    case FORWARD: {                                                             // w_g[co, (ci, ky, kx)]
      let ck = P.cin * KK;
      if (k >= ck) { return in_w[P.sc_w_off + m * P.sc_cin + k - ck]; }        // w_sc[co, ci]
      var row = P.w_off + m * ck;
      if (P.groups > 1u) { row = P.w_off + (m / P.cout) * P.w_gstride + (m % P.cout) * ck; }   // stacked: 1x1 only
      return in_w[row + k];
    }
    case BACKWARD_INPUT: {                                                      // w_g[co, ci, ky, kx], m = ci
      let gc = group_of(k / KK);
      return in_w[gc.x * P.w_gstride + (gc.y * P.cin + m) * KK + k % KK];
    }
    default: { return dy_at(q.b, m, q.oy, q.ox); }                              // dy[b, co, oy, ox], m = (g, co)
  }
}

// The fixed coordinate of one B-tile slot of a thread (its column n, or for the weight gradient its
// tap), decoded once before the K loop so that the loop itself divides only by constants.
//   forward:          n = (b, oy, ox)  -> b, y = oy*STRIDE - padT, x = ox*STRIDE - padL
//   input gradient:   n = (b, iy, ix)  -> b, y = iy + padT,        x = ix + padL
//   weight gradient:  n = (ci, ky, kx) -> b = ci, y = ky - padT,   x = kx - padL
struct Slot { b: u32, y: i32, x: i32 }

fn decode_slot(mode: u32, n: u32) -> Slot {
  switch (mode) {
    case FORWARD: {
      let ohw = P.oh * P.ow;
      let p = n % ohw;
      return Slot(n / ohw, i32((p / P.ow) * STRIDE) - i32(P.pad_t), i32((p % P.ow) * STRIDE) - i32(P.pad_l));
    }
    case BACKWARD_INPUT: {
      let hw = P.h * P.w;
      let p = n % hw;
      return Slot(n / hw, i32(p / P.w + P.pad_t), i32(p % P.w + P.pad_l));
    }
    default: {
      let r = n % KK;
      return Slot(n / KK, i32(r / KSIZE) - i32(P.pad_t), i32(r % KSIZE) - i32(P.pad_l));
    }
  }
}

fn x_at(b: u32, ci: u32, iy: i32, ix: i32) -> f32 {
  if (iy < 0 || ix < 0 || iy >= i32(P.h) || ix >= i32(P.w)) { return 0.0; }   // zero padding
  var y = u32(iy);
  var x = u32(ix);
  var h = P.h;
  var w = P.w;
  if ((P.flags & FLAG_UP2) != 0u) {
    y >>= 1u;
    x >>= 1u;
    h >>= 1u;
    w >>= 1u;
  }
  if (ci < P.ca) { return x_value(b, ci, in_x_at(((b * P.ca + ci) * h + y) * w + x)); }
  return x_value(b, ci, in_x2[((b * (P.cin - P.ca) + ci - P.ca) * h + y) * w + x]);
}

// Bm[k, n] for the slot s decoded from n (caller checks bounds); q as in load_a.
fn load_b(mode: u32, k: u32, s: Slot, q: KPos) -> f32 {
  switch (mode) {
    case FORWARD: {                                   // im2col(x): k = (ci, ky, kx)
      let ck = P.cin * KK;
      if (k >= ck) {                                  // sc_x[b, k - ck, oy, ox]: stride 1
        let c = k - ck;
        let p = u32(s.y + i32(P.pad_t)) * P.ow + u32(s.x + i32(P.pad_l));
        if (c < P.sc_ca) { return in_c[(s.b * P.sc_ca + c) * P.oh * P.ow + p]; }
        return in_x2[(s.b * (P.sc_cin - P.sc_ca) + c - P.sc_ca) * P.oh * P.ow + p];
      }
      let r = k % KK;
      return x_at(s.b, k / KK, s.y + i32(r / KSIZE), s.x + i32(r % KSIZE));
    }
    case BACKWARD_WEIGHT: {                           // im2col(x) transposed: k = (b, oy, ox)
      if (s.b == P.cin) { return 1.0; }               // FLAG_DB's column of ones
      return x_at(q.b, s.b, i32(q.oy * STRIDE) + s.y, i32(q.ox * STRIDE) + s.x);
    }
    default: {
      // dy gathered for input pixel (b, iy, ix) and k = (co, ky, kx): oy = (iy + padT - ky) / STRIDE
      // when that is integral and in range (stride 2 leaves gaps), else 0.
      let r = k % KK;
      let ty = s.y - i32(r / KSIZE);
      let tx = s.x - i32(r % KSIZE);
      if (ty < 0 || tx < 0 || ty % i32(STRIDE) != 0 || tx % i32(STRIDE) != 0) { return 0.0; }
      let oy = u32(ty) / STRIDE;
      let ox = u32(tx) / STRIDE;
      if (oy >= P.oh || ox >= P.ow) { return 0.0; }
      return dy_at(s.b, k / KK, oy, ox);
    }
  }
}

// The outputs of thread lid in workgroup tile wid (gemm.wgsl: output e is gemm_result(acc, e), at
// row and column (m0, n0) + gemm_output(lid, e)). Per K slice each thread loads A_LOADS vec4s of A
// (4 rows at one k) and B_LOADS of B (4 columns at one k); consecutive threads walk the operand's
// contiguous axis: k for A (w along (ci, ky, kx) or runs of KK taps; dy along pixels) except
// the input gradient's 1x1 weight (w[co, ci] with k = co: contiguous along m = ci), k for
// the weight gradient's B (pixels of x), columns (pixels) for the other Bs. The weight gradient's
// loads all read k offset li % TK of the slice (gemm_loader_slot), so one KPos serves them.
fn gemm(mode: u32, wid: vec3u, li: u32, lid: vec2u) -> GemmAcc {
  let g = gemm_dims(mode, wid.z);
  let m0 = wid.y * ROWS;
  let n0 = wid.x * TN;
  let a_kfast = !(mode == BACKWARD_INPUT && KK == 1u);
  let b_kfast = mode == BACKWARD_WEIGHT;
  // The B columns of each of the thread's B loads, decoded once: slots[4r + j] (B_LOADS <= 2).
  var slots: array<Slot, 8>;
  for (var r = 0u; r < B_LOADS; r++) {
    let bs = gemm_loader_slot(li, r, TN / 4u, b_kfast);
    for (var j = 0u; j < 4u; j++) { slots[4u * r + j] = decode_slot(mode, n0 + gemm_b_col(bs.y, j)); }
  }
  var q = KPos(0u, 0u, 0u);
  if (mode == BACKWARD_WEIGHT) { q = kpos_at(g.k0 + li % TK); }
  var acc: GemmAcc;
  for (var k0 = g.k0; k0 < g.k1; k0 += TK) {
    for (var r = 0u; r < A_LOADS; r++) {
      let s = gemm_loader_slot(li, r, ROWS / 4u, a_kfast);
      var a = vec4f();
      if (k0 + s.x < g.k1) {
        for (var i = 0u; i < 4u; i++) {
          let m = m0 + gemm_a_row(s.y, i);
          if (m < g.m) { a[i] = load_a(mode, m, k0 + s.x, q); }
        }
      }
      gemm_store_a(s, a);
    }
    for (var r = 0u; r < B_LOADS; r++) {
      let bs = gemm_loader_slot(li, r, TN / 4u, b_kfast);
      var b = vec4f();
      if (k0 + bs.x < g.k1) {
        for (var j = 0u; j < 4u; j++) {
          if (n0 + gemm_b_col(bs.y, j) < g.n) { b[j] = load_b(mode, k0 + bs.x, slots[4u * r + j], q); }
        }
      }
      gemm_store_b(bs, b);
    }
    if (mode == BACKWARD_WEIGHT) { q = kpos_advance(q); }
    workgroupBarrier();
    gemm_multiply(&acc, lid);
    workgroupBarrier();
  }
  gemm_finish(&acc, lid);
  return acc;
}

// ---- forward: y = conv(x) + bias (+ chan) (+ residual) ------------------------------------------

@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read> chan: array<f32>;       // (B, Co), read with FLAG_CHAN
@group(0) @binding(7) var<storage, read> residual: array<f32>;   // like y, read with FLAG_RES
@group(0) @binding(8) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(GEMM_THREADS)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let lid = gemm_thread(li);
  let acc = gemm(FORWARD, wid, li, lid);
  let ohw = P.oh * P.ow;
  for (var e = 0u; e < GEMM_OUTPUTS; e++) {
    let o = gemm_output(lid, e);
    let row = wid.y * ROWS + o.x;                   // (g, co)
    let n = wid.x * TN + o.y;
    if (row >= P.groups * P.cout || n >= P.batch * ohw) { continue; }
    let g = row / P.cout;
    let co = row % P.cout;
    let b = n / ohw;
    let out = (b * P.cout + co) * ohw + n % ohw;
    var v = gemm_result(acc, e);
    if ((P.flags & FLAG_BIAS) != 0u) { v += bias[P.b_off + g * P.b_gstride + co]; }
    if ((P.flags & FLAG_SHORTCUT) != 0u) { v += bias[P.sc_b_off + co]; }
    if ((P.flags & FLAG_CHAN) != 0u) { v += chan[b * P.cout + co]; }
    if ((P.flags & FLAG_RES) != 0u) { v += residual[out]; }
    y[g * P.y_gstride + out] = v;
  }
}

// ---- backward: the input gradient's tiles, then the weight gradient's --------------------------------
//   dx[b, ci, iy, ix] = sum_{co, ky, kx} w[co, ci, ky, kx] dy[b, co, oy, ox]
//   dw[co, (ci, ky, kx)] += sum_{(b, oy, ox)} dy[b, co, oy, ox] x[b, ci, iy, ix]
//   (one split: += into dw; several: partial[z, co, (ci, ky, kx)] = the sum over split z's range)

@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx2: array<f32>;   // channels from ca on, of a two-part x
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;
@group(0) @binding(8) var<storage, read_write> db: array<f32>;    // FLAG_DB with one split; or the plane sums (B, Co)

// The weight gradient's column of ones for the bias gradient: 1 with FLAG_DB, else 0.
fn db_columns() -> u32 {
  return select(0u, 1u, (P.flags & FLAG_DB) != 0u);
}

fn input_gradient(wid: vec3u, li: u32) {
  let lid = gemm_thread(li);
  let acc = gemm(BACKWARD_INPUT, wid, li, lid);
  let hw = P.h * P.w;
  for (var e = 0u; e < GEMM_OUTPUTS; e++) {
    let o = gemm_output(lid, e);
    let ci = wid.y * ROWS + o.x;
    let n = wid.x * TN + o.y;
    if (ci >= P.cin || n >= P.batch * hw) { continue; }
    let v = gemm_result(acc, e);
    let acc_on = (P.flags & FLAG_ACC) != 0u;
    let dca = select(P.ca, P.cin, (P.flags & FLAG_NORM) != 0u);   // a normalised input's gradient is one tensor
    if (ci < dca) {
      let out = ((n / hw) * dca + ci) * hw + n % hw;
      if (acc_on) { dx[out] += v; } else { dx[out] = v; }
    } else {
      let out = ((n / hw) * (P.cin - dca) + ci - dca) * hw + n % hw;
      if (acc_on) { dx2[out] += v; } else { dx2[out] = v; }
    }
  }
}

fn weight_gradient(wid: vec3u, li: u32) {
  let lid = gemm_thread(li);
  let acc = gemm(BACKWARD_WEIGHT, wid, li, lid);
  let ncols = P.cin * KK;
  let rows = P.groups * P.cout;
  let slice = wid.z * rows * (ncols + db_columns());
  for (var e = 0u; e < GEMM_OUTPUTS; e++) {
    let o = gemm_output(lid, e);
    let co = wid.y * ROWS + o.x;                    // (g, co) of stacked convolutions
    let n = wid.x * TN + o.y;
    if (co >= rows || n >= ncols + db_columns()) { continue; }
    let v = gemm_result(acc, e);
    let gc = group_of(co);
    if (n == ncols) {
      if (P.splits > 1u) { dw[slice + rows * ncols + co] = v; }
      else if (P.groups == 1u) { db[co] += v; }
      else { dw[P.b_off + gc.x * P.b_gstride + gc.y] += v; }   // stacked: db in dw's span
    } else {
      if (P.splits == 1u) { dw[P.w_off + gc.x * P.w_gstride + gc.y * ncols + n] += v; } else { dw[slice + co * ncols + n] = v; }
    }
  }
}

// The plane sums of dy, GEMM_THREADS / PLANE_LANES planes per workgroup (plane (g * B + b) * Co + co:
// (b, co) of stacked convolution g, contiguous in NCHW), lane by lane in the order of the header.
const PLANE_LANES: u32 = 64u;
var<workgroup> plane_partial: array<f32, GEMM_THREADS>;

fn plane_sums(q: u32, li: u32) {
  let lane = li % PLANE_LANES;
  let plane = q * (GEMM_THREADS / PLANE_LANES) + li / PLANE_LANES;
  let ohw = P.oh * P.ow;
  let per_group = P.batch * P.cout;
  let real = plane < P.groups * per_group;
  let g = plane / per_group;
  let bc = plane % per_group;                       // b * Co + co
  var s = 0.0;
  if (real) {
    for (var i = lane; i < ohw; i += PLANE_LANES) { s += in_c[g * P.y_gstride + bc * ohw + i]; }
  }
  plane_partial[li] = s;
  workgroupBarrier();
  for (var stride = PLANE_LANES / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) { plane_partial[li] += plane_partial[li + stride]; }
    workgroupBarrier();
  }
  if (real && lane == 0u) { db[g * P.plane_gstride + bc] = plane_partial[li]; }
}

// Workgroup t of the flat grid (split over x and y beyond 65535, kernel.ts grid()) is tile
// (column, row) of the input gradient below input_tiles, then tile (column, row, split) of the
// weight gradient, then a group of plane sums. The branch depends on the workgroup alone: uniform, as
// its barriers need.
@compute @workgroup_size(GEMM_THREADS)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) li: u32) {
  let t = workgroup_index(wid, nwg);
  if (t < P.input_tiles) {
    let columns = (P.batch * P.h * P.w + TN - 1u) / TN;
    input_gradient(vec3u(t % columns, t / columns, 0u), li);
  } else if (t - P.input_tiles < P.weight_tiles) {
    let u = t - P.input_tiles;
    let columns = (P.cin * KK + db_columns() + TN - 1u) / TN;
    let rows = (P.groups * P.cout + ROWS - 1u) / ROWS;
    weight_gradient(vec3u(u % columns, (u / columns) % rows, u / (columns * rows)), li);
  } else if (t - P.input_tiles - P.weight_tiles < P.plane_groups) {
    plane_sums(t - P.input_tiles - P.weight_tiles, li);
  }
}
