// gemm.wgsl — the GEMM microkernel of the GEMM families (conv2d's three implicit GEMMs, matmul's
// strided GEMM): what every backend shares. WGSL has no include: gpu/kernel.ts appends this file and
// the tier's backend (gemm_tiles.wgsl: the register-blocked f32 FMAs of the fp32, f16 and
// matrix-emulated tiers; gemm_matrix.wgsl: the matrix tier's subgroup matrices) to the code of a
// family whose KernelSource lists it (src/kernels/gemm.ts), as it appends common.wgsl.
//
// One workgroup of GEMM_THREADS threads (TX x TY as gemm_thread numbers them; one dimension, since a
// subgroup matrix needs the x size to be a multiple of the subgroup size) computes one ROWS x TN tile
// of C[M, N] = sum_k A[M, k] Bm[k, N], stepping through K in TK-deep slices staged in workgroup memory.
// The interface a family uses:
//   gemm_loader_slot   the (k, group) of the r-th vec4 a thread loads (r < A_LOADS for A, < B_LOADS
//                      for B), A: tile rows gemm_a_row(g, i), i < 4 (ROWS/4 groups per k); B: tile
//                      columns gemm_b_col(g, j) = g + TX j (TN/4 groups per k)
//   gemm_store_a/b     stage a vec4 of A (B) in the backend's tile, as the tier's operand type
//   gemm_multiply      after a barrier: accumulate the staged slice
//   gemm_finish        after the K loop: the thread's outputs into its GemmAcc
//   gemm_output/result output e < GEMM_OUTPUTS of a thread: its (row, column) in the tile, its value
// A group's 4 rows (columns) are TY (TX) apart, not adjacent: a loader whose consecutive threads take
// consecutive groups then reads consecutive addresses with each of its 4 loads, and the epilogue's
// stores of consecutive threads are contiguous (coalesced), as with scalar tiles.
// Thread (tx, ty) owns tile rows 4 TY r + ty + TY i (r < ROW_BLOCKS, i < 4) and columns tx + TX j
// (j < 4): acc[4r + i][j], 4x4 or 8x4 outputs.
//
// Tile shapes (ROWS and TN are pipeline overrides; src/kernels/gemm.ts gemmTile picks them per GEMM).
// Every shape sums each output over k in the same order (one thread, one fma per k), so all of them
// give the same bits:
//   64 x 64  256 threads, 4x4 outputs each: the default.
//   128 x 64 256 threads, 8x4 each (gemm_tiles.wgsl only): when M >= 128 and the grid still has
//            >= 1024 workgroups of this size (several waves on the largest GPUs): each B value
//            loaded from memory feeds twice the rows, for twice the accumulators per thread. The
//            forward and input-gradient GEMMs of the large models at batch 64.
//   32 x 32  64 threads, 4x4 each, two vec4 loads of A and of B per slice (gemm_tiles.wgsl only):
//            when a dispatch's grid of 64 x 64 tiles cannot fill a large GPU (batch 1 and 8: 4 to
//            64 workgroups for 132 SMs in a forward convolution). Four times the workgroups, each a
//            quarter of the K loop's work, so the GEMM's latency falls where SMs sat idle.
// The matrix backend tiles 64 x 64 only.
//
// The accumulators are indexed by constants only (gemm_multiply spells its FMAs out, gemm_result
// selects by switch): a driver compiler that does not unroll a loop indexing them by its counter
// would otherwise move the whole array from registers to local memory.

const TK: u32 = 16u;
override ROWS: u32 = 64u;
override TN: u32 = 64u;
override TX: u32 = TN / 4u;                          // threads along the tile's columns
override TY: u32 = min(ROWS, 64u) / 4u;              // threads along its rows
override GEMM_THREADS: u32 = TX * TY;
override ROW_BLOCKS: u32 = ROWS / (4u * TY);         // 1, or 2 with ROWS = 128
override GEMM_OUTPUTS: u32 = 16u * ROW_BLOCKS;       // per thread
override A_LOADS: u32 = TK * ROWS / 4u / GEMM_THREADS;   // vec4s of A per thread and slice
override B_LOADS: u32 = TK * TN / 4u / GEMM_THREADS;     // and of B

// Thread li's (tx, ty).
fn gemm_thread(li: u32) -> vec2u {
  return vec2u(li % TX, li / TX);
}

// One thread's outputs, acc[4r + i][j]: room for ROWS = 128; with ROW_BLOCKS = 1, acc[4..7] stay
// zero and unread.
alias GemmAcc = array<vec4f, 8>;

// The (k, group) of the r-th vec4 thread li loads into a tile with `groups` vec4 groups per k.
// k_fast: consecutive threads take consecutive k (for an operand contiguous along k), else
// consecutive groups (for an operand contiguous along m or n): either way each of the thread's
// loads reads the address next to its neighbour's. GEMM_THREADS is a multiple of TK, so with k_fast
// every load of a thread reads k offset li % TK of the slice.
fn gemm_loader_slot(li: u32, r: u32, groups: u32, k_fast: bool) -> vec2u {
  let t = li + r * GEMM_THREADS;
  if (k_fast) { return vec2u(t % TK, t / TK); }
  return vec2u(t / groups, t % groups);
}

// The tile row of element i (< 4) of A group g, and the tile column of element j of B group g.
fn gemm_a_row(g: u32, i: u32) -> u32 { return 4u * TY * (g / TY) + g % TY + TY * i; }
fn gemm_b_col(g: u32, j: u32) -> u32 { return g + TX * j; }

// Output e (< GEMM_OUTPUTS) of thread t sits at this (row, column) of the tile; its value is
// gemm_result(acc, e).
fn gemm_output(t: vec2u, e: u32) -> vec2u {
  let i = e / 4u;
  return vec2u(gemm_a_row(TY * (i / 4u) + t.y, i % 4u), gemm_b_col(t.x, e % 4u));
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
