// groupnorm.wgsl — GroupNorm (affine, eps from the uniforms) with an optional fused SiLU.
//
// Shapes: x, y (B, C, H, W); w, b (C), one binding (affine: a span of the flat parameters, w at
// gamma_off and b at beta_off); G groups of Cg = C / G channels; stats (2, B, G): mean, rstd.
// x may come from two tensors, the UNet's skip concatenation read in place: channels c < ca from x
// (B, ca, H, W), the rest from x2 (B, C - ca, H, W); dx then goes to dx and dx2 alike. With one
// tensor ca = C (x2 and dx2 are placeholders).
//   z = (x - mean[b, g]) * rstd[b, g] * w[c] + b[c]        y = FLAG_SILU ? z * sigmoid(z) : z
// Statistics use two passes over the group (mean, then the centred variance): float32 stays
// accurate when |mean| >> std. Biased variance, as torch.nn.GroupNorm.
//
// Forward saves stats (mean and rstd) for backward; backward recomputes xhat (and z) from x.
//   forward    one workgroup per (b, g):  y =, mean =, rstd =
//              (forward_f16: y stored as f16 pairs, gpu/tensor.ts TensorStorage;
//               statistics: mean =, rstd =, and the per-channel table a convolution normalises its
//               input with as it loads it, y never written)
//   backward   one workgroup per (b, g), one pass over the group per stage:
//              1. per channel c of the group: pw[b, c] = sum_hw dz * xhat,  pb[b, c] = sum_hw dz
//                 (partials (B, 2C): row b is pw[b, :] then pb[b, :]), the first stage of
//                 dw[c] += sum_b pw[b, c], db[c] += sum_b pb[b, c]; the second is reduce.wgsl's
//                 sum_rows_table into dw and db. The same sums give dx's two group means:
//                 sum_g dxhat = sum_c w[c] pb[b, c],  sum_g dxhat * xhat = sum_c w[c] pw[b, c].
//              2. dx = (+= with FLAG_ACC: x fans out)
//                 dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = dz * w[c]
//                 With FLAG_RES (a one-part x), binding 2 holds r, the gradient of the block's
//                 output, which its identity shortcut passes to x: dx = ((dx +) r) + that, the sum
//                 an add of its own would have made first, without the dispatch.
//              3. with FLAG_PLANE (dx assigned, one-part x): sums[b, c] = sum_hw dx per channel, the
//                 (B, C) plane sums of x's gradient, which the ResBlock's conv1 (whose output x is,
//                 and only this GroupNorm reads) needs for its time-embedding add and bias: the order
//                 of conv2d.wgsl backward_chan (64 strided partials, then the tree), so its bits,
//                 without its dispatch. partials and sums are takes of one RowSums, bound as one span
//                 (part_off, plane_off).
// where dz = dy, or dy * silu'(z) with FLAG_SILU. Three dispatches per GroupNorm backward were four
// (dx, the partials, a sum_rows each for dw and db): the partials came from a B*C-workgroup pass
// that read x and dy once more.

struct Params {
  batch: u32, channels: u32, hw: u32, groups: u32,
  flags: u32, eps: f32, ca: u32, gamma_off: u32,
  beta_off: u32, part_off: u32, plane_off: u32,
}

const FLAG_SILU: u32 = 1u;
const FLAG_ACC: u32 = 2u;
const FLAG_RES: u32 = 4u;
const FLAG_PLANE: u32 = 8u;
// 64 threads per group: UNet groups hold a few thousand values, so 64 threads with 16+ values each
// keep loads coalesced while the reductions need 6 barrier rounds instead of 8, and CPU
// implementations (SwiftShader) schedule 4x fewer invocations through each barrier.
const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x2: array<f32>;
@group(0) @binding(3) var<storage, read> affine: array<f32>;

fn gamma(c: u32) -> f32 { return affine[P.gamma_off + c]; }
fn beta(c: u32) -> f32 { return affine[P.beta_off + c]; }

// Where element (b, c, p) of the (possibly two-part) input lives: in x (first) or x2 (second).
fn part_index(b: u32, c: u32, p: u32) -> vec2u {
  if (c < P.ca) { return vec2u(0u, (b * P.ca + c) * P.hw + p); }
  return vec2u(1u, (b * (P.channels - P.ca) + c - P.ca) * P.hw + p);
}

fn x_at(b: u32, c: u32, p: u32) -> f32 {
  let at = part_index(b, c, p);
  if (at.x == 0u) { return x[at.y]; }
  return x2[at.y];
}

var<workgroup> red: array<f32, WG>;
var<workgroup> red2: array<f32, WG>;

// Sums `a` (and `b`) over the workgroup; every thread gets the totals.
fn workgroup_sum2(li: u32, a: f32, b: f32) -> vec2f {
  red[li] = a;
  red2[li] = b;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) {
      red[li] += red[li + s];
      red2[li] += red2[li + s];
    }
    workgroupBarrier();
  }
  let total = vec2f(red[0], red2[0]);
  workgroupBarrier();
  return total;
}

fn silu_grad(z: f32) -> f32 {
  let s = 1.0 / (1.0 + exp(-z));
  return s * (1.0 + z * (1.0 - s));
}

// ---- forward --------------------------------------------------------------------------------------

@group(0) @binding(4) var<storage, read_write> stats_out: array<f32>;

// Group bg = b * G + g of the forward: where it lies and its statistics (thread 0 saves them).
struct NormGroup { b: u32, c0: u32, n: u32, base: u32, mean: f32, rstd: f32 }

fn forward_group(bg: u32, li: u32) -> NormGroup {
  let b = bg / P.groups;
  let cg = P.channels / P.groups;
  let n = cg * P.hw;
  let c0 = (bg % P.groups) * cg;
  var s = 0.0;
  for (var i = li; i < n; i += WG) { s += x_at(b, c0 + i / P.hw, i % P.hw); }
  let mean = workgroup_sum2(li, s, 0.0).x / f32(n);
  var v = 0.0;
  for (var i = li; i < n; i += WG) {
    let d = x_at(b, c0 + i / P.hw, i % P.hw) - mean;
    v += d * d;
  }
  let rstd = inverseSqrt(workgroup_sum2(li, v, 0.0).x / f32(n) + P.eps);
  if (li == 0u) {
    stats_out[bg] = mean;
    stats_out[P.batch * P.groups + bg] = rstd;
  }
  // The group is contiguous in NCHW (in y; in x unless split): it starts at bg * n.
  return NormGroup(b, c0, n, bg * n, mean, rstd);
}

// Channel c's normalisation in group g: (mean, rstd, gamma, beta).
fn norm_entry(g: NormGroup, c: u32) -> vec4f {
  return vec4f(g.mean, g.rstd, gamma(c), beta(c));
}

// Element i of the group, normalised (then SiLU'd).
fn forward_value(g: NormGroup, i: u32) -> f32 {
  let c = g.c0 + i / P.hw;
  return group_norm_value(norm_entry(g, c), x_at(g.b, c, i % P.hw), (P.flags & FLAG_SILU) != 0u);
}

@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = forward_group(wid.x, li);
  for (var i = li; i < g.n; i += WG) { y[g.base + i] = forward_value(g, i); }
}

// forward_f16: y stored as f16 pairs (u32 words), for a reduced tier's convolution to read (the
// launcher checks that a group holds an even number of values, so no word straddles two groups).
@group(0) @binding(5) var<storage, read_write> y16: array<u32>;

@compute @workgroup_size(WG)
fn forward_f16(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = forward_group(wid.x, li);
  for (var j = li; 2u * j < g.n; j += WG) {
    y16[g.base / 2u + j] = f16_pair(forward_value(g, 2u * j), forward_value(g, 2u * j + 1u));
  }
}

// statistics: the forward without y, for a convolution that normalises its input as it loads it
// (conv2d.wgsl FLAG_NORM): stats as forward, and table (B, C) of vec4 = norm_entry per (b, c), the
// same numbers forward_value uses, so the convolution computes y's values bit for bit. y is never
// written (a GroupNorm output is as large as its input; the table is 16 bytes per channel).
@group(0) @binding(5) var<storage, read_write> table: array<vec4f>;

@compute @workgroup_size(WG)
fn statistics(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = forward_group(wid.x, li);
  let cg = P.channels / P.groups;
  for (var j = li; j < cg; j += WG) { table[g.b * P.channels + g.c0 + j] = norm_entry(g, g.c0 + j); }
}

// ---- backward -------------------------------------------------------------------------------------

@group(0) @binding(4) var<storage, read> stats_in: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx2: array<f32>;
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;   // (B, 2C) = at part_off; sums (B, C) = at plane_off

// dz at (b, c, p) (flat index i = (b * C + c) * hw + p of dy) in group bg, and xhat there.
fn dz_xhat(i: u32, b: u32, c: u32, p: u32, bg: u32) -> vec2f {
  let xhat = (x_at(b, c, p) - stats_in[bg]) * stats_in[P.batch * P.groups + bg];
  var d = dy[i];
  if ((P.flags & FLAG_SILU) != 0u) { d *= silu_grad(xhat * gamma(c) + beta(c)); }
  return vec2f(d, xhat);
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let bg = wid.x;
  let b = bg / P.groups;
  let cg = P.channels / P.groups;
  let n = cg * P.hw;
  let base = bg * n;
  let c0 = (bg % P.groups) * cg;
  var s1 = 0.0;                         // sum over the group of dxhat
  var s2 = 0.0;                         // and of dxhat * xhat
  for (var j = 0u; j < cg; j++) {
    let c = c0 + j;
    let plane = b * P.channels + c;
    var sw = 0.0;
    var sb = 0.0;
    for (var p = li; p < P.hw; p += WG) {
      let dzx = dz_xhat(plane * P.hw + p, b, c, p, bg);
      sw += dzx.x * dzx.y;
      sb += dzx.x;
    }
    let sums = workgroup_sum2(li, sw, sb);
    if (li == 0u) {
      partials[P.part_off + b * 2u * P.channels + c] = sums.x;
      partials[P.part_off + (b * 2u + 1u) * P.channels + c] = sums.y;
    }
    s1 += gamma(c) * sums.y;
    s2 += gamma(c) * sums.x;
  }
  let means = vec2f(s1, s2) / f32(n);
  let rstd = stats_in[P.batch * P.groups + bg];
  let acc = (P.flags & FLAG_ACC) != 0u;
  let res = (P.flags & FLAG_RES) != 0u;
  for (var i = li; i < n; i += WG) {
    let c = c0 + i / P.hw;
    let p = i % P.hw;
    let dzx = dz_xhat(base + i, b, c, p, bg);
    let g = rstd * (dzx.x * gamma(c) - means.x - dzx.y * means.y);
    let at = part_index(b, c, p);
    if (at.x == 0u) {
      if (res) {
        var prior = x2[at.y];                          // r
        if (acc) { prior = dx[at.y] + prior; }
        dx[at.y] = prior + g;
      } else if (acc) { dx[at.y] += g; } else { dx[at.y] = g; }
    } else {
      if (acc) { dx2[at.y] += g; } else { dx2[at.y] = g; }
    }
  }
  if ((P.flags & FLAG_PLANE) != 0u) {
    storageBarrier();                   // every thread's dx of the group, visible to the others
    for (var j = 0u; j < cg; j++) {
      let plane = b * P.channels + c0 + j;
      var sp = 0.0;
      for (var p = li; p < P.hw; p += WG) { sp += dx[plane * P.hw + p]; }
      let total = workgroup_sum2(li, sp, 0.0).x;
      if (li == 0u) { partials[P.plane_off + plane] = total; }
    }
  }
}
