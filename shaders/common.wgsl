// Helpers every kernel family shares. WGSL has no include: gpu/kernel.ts appends this file to each
// family's code when it builds the shader module (appended, so the line numbers of a compiler
// message about a family's own code stay true; at module scope WGSL does not care about order).
//
// Launches of more than 65535 workgroups are split over x and y (kernel.ts grid()); these give the
// workgroup's index in the flattened launch, and a thread's for `wg` threads per workgroup.
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

fn thread_index(wid: vec3u, nwg: vec3u, wg: u32, li: u32) -> u32 {
  return workgroup_index(wid, nwg) * wg + li;
}

// The logistic function, numerically safe for any v: exp of a large argument is never formed (WGSL
// leaves overflow to infinity implementation-defined). SiLU is v * sigmoid(v) (linear, timestep).
fn sigmoid(v: f32) -> f32 {
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

// GroupNorm's affine normalisation of one value v of channel c, then SiLU where asked: t holds
// (mean, rstd) of v's (sample, group) and (gamma, beta) of c. groupnorm.wgsl writes it, and
// conv2d.wgsl applies it as it loads a normalised input (FLAG_NORM): one expression, so one result.
fn group_norm_value(t: vec4f, v: f32, silu: bool) -> f32 {
  let z = (v - t.x) * t.y * t.z + t.w;
  if (silu) { return z / (1.0 + exp(-z)); }
  return z;
}

// The sum (max) over a workgroup of 256 threads, in a fixed pairing, so the result does not depend
// on thread timing (loss, reduce, ideal). A workgroup array's size is part of its type and WGSL has no
// generics, so families with another workgroup size (attention, groupnorm: 64) keep their own.
var<workgroup> lanes256: array<f32, 256>;

fn workgroup_max256(li: u32, x: f32) -> f32 {
  lanes256[li] = x;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) { lanes256[li] = max(lanes256[li], lanes256[li + s]); }
    workgroupBarrier();
  }
  let top = lanes256[0];
  workgroupBarrier(); // as below
  return top;
}

fn workgroup_sum256(li: u32, x: f32) -> f32 {
  lanes256[li] = x;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) { lanes256[li] += lanes256[li + s]; }
    workgroupBarrier();
  }
  let total = lanes256[0];
  workgroupBarrier(); // a second sum in the same kernel must not overwrite lanes256[0] before all have read it
  return total;
}

// ---- f16 values: the reduced tiers' GEMM operands (gemm_tiles.wgsl, gemm_matrix.wgsl), and the
// activations those tiers store as f16 pairs, two to a u32 word, element 2i in word i's low half
// (gpu/tensor.ts TensorStorage) ----

// v rounded to the nearest f16 (ties to even), held in f32. pack2x16float's result is indeterminate
// beyond f16's range, so overflow is made explicit: +-inf (the dynamic loss scale watches for it).
// NaN stays NaN. The infinity is read from a private variable: a constant expression may not be one.
var<private> f16_inf_bits: u32 = 0x7f800000u;

fn f16_round4(v: vec4f) -> vec4f {
  let r = vec4f(unpack2x16float(pack2x16float(v.xy)), unpack2x16float(pack2x16float(v.zw)));
  let inf = bitcast<f32>(f16_inf_bits);
  let rounded = select(r, sign(v) * inf, abs(v) >= vec4f(65520.0));   // 65520 and up round past 65504
  return select(rounded, v, v != v);
}

// The binary16 bits of f16_round4(v): pack2x16float's, with overflow (+-inf) and NaN made explicit,
// so that a value stored as f16 and read back is the operand a GEMM would have staged from its f32.
fn f16_bits(v: f32) -> u32 {
  if (v != v) { return 0x7e00u; }
  if (abs(v) >= 65520.0) { return select(0x7c00u, 0xfc00u, v < 0.0); }
  return pack2x16float(vec2f(v, 0.0)) & 0xffffu;
}

// Word i of an f16-pair tensor from elements 2i (lo) and 2i + 1 (hi).
fn f16_pair(lo: f32, hi: f32) -> u32 {
  return f16_bits(lo) | (f16_bits(hi) << 16u);
}

// Element e of an f16-pair tensor, from its word (word e / 2).
fn f16_element(word: u32, e: u32) -> f32 {
  return unpack2x16float(word)[e & 1u];
}
