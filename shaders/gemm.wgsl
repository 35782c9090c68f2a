// gemm.wgsl — the GEMM microkernel of the GEMM families (conv2d's three implicit GEMMs, matmul's
// strided GEMM): what every backend shares. WGSL has no include: gpu/kernel.ts appends this file and
// the tier's backend (gemm_tiles.wgsl: the register-blocked f32 FMAs of the fp32, f16 and
// matrix-emulated tiers; gemm_matrix.wgsl: the matrix tier's subgroup matrices) to the code of a
// family whose KernelSource lists it (src/kernels/gemm.ts), as it appends common.wgsl.
//
// One workgroup of 256 threads (16x16 as gemm_thread numbers them; one dimension, since a subgroup
// matrix needs the x size to be a multiple of the subgroup size) computes one ROWS x TN tile of
// C[M, N] = sum_k A[M, k] Bm[k, N], stepping through K in TK-deep slices staged in workgroup memory.
// The interface a family uses:
//   gemm_loader_slot   the (k, group) of each vec4 a thread loads, A: tile rows gemm_a_row(g, i),
//                      i < 4 (ROWS/4 groups per k); B: tile columns gemm_b_col(g, j) = g + 16j
//   gemm_store_a/b     stage a vec4 of A (B) in the backend's tile, as the tier's operand type
//   gemm_multiply      after a barrier: accumulate the staged slice
//   gemm_finish        after the K loop: the thread's outputs into its GemmAcc
//   gemm_output/result output e of a thread: its (row, column) in the tile, and its value
// A group's 4 rows (columns) are 16 apart, not adjacent: a loader whose consecutive threads take
// consecutive groups then reads consecutive addresses with each of its 4 loads, and the epilogue's
// stores of consecutive threads are contiguous (coalesced), as with scalar tiles.
// Thread (tx, ty) owns tile rows 64r + ty + 16i (r < ROWS/64, i < 4) and columns tx + 16j (j < 4):
// acc[4r + i][j].
//
// Tile shapes (ROWS is a pipeline override; src/kernels/gemm.ts gemmRows picks it per GEMM):
//   64 x 64  (4x4 outputs per thread): the default. 256 threads keep many workgroups resident,
//            and small grids (batch 1 and 8, the 8 px levels, split-K weight gradients) need them.
//   128 x 64 (8x4 per thread, gemm_tiles.wgsl only): when M >= 128 and the grid still has >= 1024
//            workgroups of this size (several waves on the largest GPUs): each B value loaded from
//            memory feeds twice the rows, for twice the accumulators per thread. The forward and
//            input-gradient GEMMs of the large models at batch 64.
//
// The accumulators are indexed by constants only (gemm_multiply spells its FMAs out, gemm_result
// selects by switch): a driver compiler that does not unroll a loop indexing them by its counter
// would otherwise move the whole array from registers to local memory.

const TN: u32 = 64u;
const TK: u32 = 16u;
override ROWS: u32 = 64u;
const GEMM_THREADS: u32 = 256u;

// Thread li's (tx, ty), as a 16x16 workgroup would number it.
fn gemm_thread(li: u32) -> vec2u {
  return vec2u(li % 16u, li / 16u);
}

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
