// gemm.wgsl — the register-blocked GEMM microkernel of the GEMM families (conv2d's three implicit
// GEMMs, matmul's strided GEMM). WGSL has no include: gpu/kernel.ts appends this file to the code
// of a family whose KernelSource lists it (src/kernels/gemm.ts), as it appends common.wgsl.
//
// One workgroup of 16x16 threads computes one ROWS x TN tile of C[M, N] = sum_k A[M, k] Bm[k, N],
// stepping through K in TK-deep slices staged in workgroup memory as vec4s:
//   tileA[k][g] = A at slice row k, tile rows gemm_a_row(g, i), i < 4  (ROWS/4 groups per k)
//   tileB[k][g] = Bm at slice row k, tile columns g + 16j, j < 4        (TN/4 = 16 groups per k)
// A group's 4 rows (columns) are 16 apart, not adjacent: a loader whose consecutive threads take
// consecutive groups then reads consecutive addresses with each of its 4 loads, and the epilogue's
// stores of consecutive threads are contiguous (coalesced), as with scalar tiles.
// Per slice, the family's loaders fill the tiles (each thread ROWS/64 vec4s of A and one of B, at
// the (k, group) gemm_loader_slot gives it), then after a barrier gemm_multiply accumulates.
// Thread (tx, ty) reads A groups ty and 16 + ty (the second with ROWS = 128) and B group tx: it owns
// tile rows 64r + ty + 16i (r < ROWS/64, i < 4) and columns tx + 16j (j < 4), acc[4r + i][j]. Per
// k it reads one vec4 of B and ROWS/64 vec4s of A from workgroup memory for 4 ROWS/64 vec4 FMAs
// (16 or 32 scalar FMAs per 2 or 3 vec4 reads).
//
// Tile shapes (ROWS is a pipeline override; src/kernels/gemm.ts gemmRows picks it per GEMM):
//   64 x 64  (4x4 outputs per thread): the default. 256 threads keep many workgroups resident,
//            and small grids (batch 1 and 8, the 8 px levels, split-K weight gradients) need them.
//   128 x 64 (8x4 per thread): when M >= 128 and the grid still has >= 1024 workgroups of this size
//            (several waves on the largest GPUs): each B value loaded from memory feeds twice the
//            rows, and workgroup reads per FMA drop by a quarter, for twice the accumulators per
//            thread. The forward and input-gradient GEMMs of the large models at batch 64.
// Each tile row is padded by one vec4: a loader whose consecutive threads take consecutive k
// (an operand contiguous along k) then stores to different memory banks (row strides of 17 and
// 33 vec4s are 1 mod 8: the 8 stores of a quarter warp hit 8 different 16-byte bank groups).
//
// Operand precision (src/gpu/tier.ts): a tier's variant (src/kernels/gemm.ts gemmOperandCode) declares
// GemmOperand, the vec4 type a tile holds, and gemm_operand(v), what a staged vec4 becomes:
//   fp32             vec4f, v itself (the engine before tiers, bit for bit);
//   matrix-emulated  vec4f, f16_round4(v): f16 values held in f32;
//   f16              vec4h (`enable f16`), the same values: both tiers give the same bits.
// The multiply widens them to f32 and accumulates in f32 in every tier. Epilogues stay f32.
//
// The accumulators are indexed by constants only (gemm_multiply spells its FMAs out, gemm_result
// selects by switch): a driver compiler that does not unroll a loop indexing them by its counter
// would otherwise move the whole array from registers to local memory.

const TN: u32 = 64u;
const TK: u32 = 16u;
override ROWS: u32 = 64u;

const B_ROW: u32 = TN / 4u + 1u;                     // vec4s per tileB row, one of them padding
var<workgroup> tileA: array<GemmOperand, TK * (ROWS / 4u + 1u)>;
var<workgroup> tileB: array<GemmOperand, TK * B_ROW>;

// One thread's outputs, acc[4r + i][j]: room for ROWS = 128; with ROWS = 64, acc[4..7] stay zero
// and unread.
alias GemmAcc = array<vec4f, 8>;

// The (k, group) of the r-th vec4 thread li loads into a tile with `groups` vec4 groups per k.
// k_fast: consecutive threads take consecutive k (for an operand contiguous along k), else
// consecutive groups (for an operand contiguous along m or n): either way each of the thread's
// loads reads the address next to its neighbour's.
fn gemm_loader_slot(li: u32, r: u32, groups: u32, k_fast: bool) -> vec2u {
  let t = li + r * 256u;
  if (k_fast) { return vec2u(t % TK, t / TK); }
  return vec2u(t / groups, t % groups);
}

// The tile row of element i (< 4) of A group g, and the tile column of element j of B group g.
fn gemm_a_row(g: u32, i: u32) -> u32 { return 64u * (g / 16u) + g % 16u + 16u * i; }
fn gemm_b_col(g: u32, j: u32) -> u32 { return g + 16u * j; }

fn gemm_store_a(s: vec2u, v: vec4f) {
  tileA[s.x * (ROWS / 4u + 1u) + s.y] = gemm_operand(v);
}

fn gemm_store_b(s: vec2u, v: vec4f) {
  tileB[s.x * B_ROW + s.y] = gemm_operand(v);
}

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

// acc += this slice's tileA^T tileB block of thread t = (tx, ty).
fn gemm_multiply(acc: ptr<function, GemmAcc>, t: vec2u) {
  for (var kk = 0u; kk < TK; kk++) {
    let b = vec4f(tileB[kk * B_ROW + t.x]);
    let a = vec4f(tileA[kk * (ROWS / 4u + 1u) + t.y]);
    (*acc)[0] = fma(vec4f(a.x), b, (*acc)[0]);
    (*acc)[1] = fma(vec4f(a.y), b, (*acc)[1]);
    (*acc)[2] = fma(vec4f(a.z), b, (*acc)[2]);
    (*acc)[3] = fma(vec4f(a.w), b, (*acc)[3]);
    if (ROWS == 128u) {
      let a2 = vec4f(tileA[kk * (ROWS / 4u + 1u) + 16u + t.y]);
      (*acc)[4] = fma(vec4f(a2.x), b, (*acc)[4]);
      (*acc)[5] = fma(vec4f(a2.y), b, (*acc)[5]);
      (*acc)[6] = fma(vec4f(a2.z), b, (*acc)[6]);
      (*acc)[7] = fma(vec4f(a2.w), b, (*acc)[7]);
    }
  }
}

// Output e (< ROWS / 4: the thread's 16 or 32) of thread t sits at this (row, column) of the tile;
// its value is gemm_result(acc, e).
fn gemm_output(t: vec2u, e: u32) -> vec2u {
  let i = e / 4u;
  return vec2u(gemm_a_row(16u * (i / 4u) + t.y, i % 4u), gemm_b_col(t.x, e % 4u));
}

fn gemm_result(acc: GemmAcc, e: u32) -> f32 {
  var v: vec4f;
  switch (e / 4u) {
    case 0u: { v = acc[0]; }
    case 1u: { v = acc[1]; }
    case 2u: { v = acc[2]; }
    case 3u: { v = acc[3]; }
    case 4u: { v = acc[4]; }
    case 5u: { v = acc[5]; }
    case 6u: { v = acc[6]; }
    default: { v = acc[7]; }
  }
  return v[e % 4u];
}
