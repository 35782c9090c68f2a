// gemm.wgsl — the register-blocked GEMM microkernel of the GEMM families (conv2d's three implicit
// GEMMs, matmul's strided GEMM). WGSL has no include: gpu/kernel.ts appends this file to the code
// of a family whose KernelSource lists it (src/kernels/gemm.ts), as it appends common.wgsl.
//
// One workgroup of 16x16 threads computes one ROWS x TN tile of C[M, N] = sum_k A[M, k] Bm[k, N],
// stepping through K in TK-deep slices staged in workgroup memory as vec4s:
//   tileA[k][g] = A rows 4g .. 4g+3 at slice row k     (ROWS/4 groups per k)
//   tileB[k][g] = Bm columns 4g .. 4g+3 at slice row k (TN/4 = 16 groups per k)
// Per slice, the family's loaders fill the tiles (each thread ROWS/64 vec4s of A and one of B, at
// the (k, group) gemm_loader_slot gives it), then after a barrier gemm_multiply accumulates.
// Thread (tx, ty) owns rows 64r + 4ty + i (r < ROWS/64, i < 4) and columns 4tx + j (j < 4) of
// the tile: acc[4r + i][j]. Per k it reads one vec4 of B and ROWS/64 vec4s of A from workgroup
// memory and issues 4 ROWS/64 vec4 FMAs (16 or 32 scalar FMAs per 2 or 3 vec4 reads).
//
// Tile shapes (ROWS is a pipeline override; src/kernels/gemm.ts gemmRows picks it per GEMM):
//   64 x 64  (4x4 outputs per thread): the default. 256 threads keep many workgroups resident,
//            and small grids (batch 1 and 8, the 8 px levels, split-K weight gradients) need them.
//   128 x 64 (8x4 per thread): when M >= 128 and the grid still has >= 1024 workgroups of this size
//            (several waves on the largest GPUs): each B value loaded from memory feeds twice the
//            rows, and workgroup reads per FMA drop by a quarter, for twice the accumulators per
//            thread. The forward and input-gradient GEMMs of the large models at batch 64.
// Each tile row is padded by one vec4: a loader whose consecutive threads take consecutive k
// (an operand contiguous along k) then stores to different memory banks.

const TN: u32 = 64u;
const TK: u32 = 16u;
override ROWS: u32 = 64u;

const B_ROW: u32 = TN / 4u + 1u;                     // vec4s per tileB row, one of them padding
var<workgroup> tileA: array<vec4f, TK * (ROWS / 4u + 1u)>;
var<workgroup> tileB: array<vec4f, TK * B_ROW>;

// One thread's outputs: 8 = 4 x the most row blocks (ROWS / 64 = 2); with ROWS = 64 only the first
// four are touched, and the compiler drops the rest (every loop below has a constant trip count).
alias GemmAcc = array<vec4f, 8>;

// The (k, group) of the r-th vec4 thread li loads into a tile with `groups` vec4 groups per k.
// k_fast: consecutive threads take consecutive k (for an operand contiguous along k), else
// consecutive groups (contiguous along m or n): either way neighbouring threads read neighbouring
// addresses.
fn gemm_loader_slot(li: u32, r: u32, groups: u32, k_fast: bool) -> vec2u {
  let t = li + r * 256u;
  if (k_fast) { return vec2u(t % TK, t / TK); }
  return vec2u(t / groups, t % groups);
}

fn gemm_store_a(s: vec2u, v: vec4f) {
  tileA[s.x * (ROWS / 4u + 1u) + s.y] = v;
}

fn gemm_store_b(s: vec2u, v: vec4f) {
  tileB[s.x * B_ROW + s.y] = v;
}

// acc += this slice's tileA^T tileB block of thread t = (tx, ty).
fn gemm_multiply(acc: ptr<function, GemmAcc>, t: vec2u) {
  for (var kk = 0u; kk < TK; kk++) {
    let b = tileB[kk * B_ROW + t.x];
    for (var r = 0u; r < ROWS / 64u; r++) {
      let a = tileA[kk * (ROWS / 4u + 1u) + 16u * r + t.y];
      for (var i = 0u; i < 4u; i++) { (*acc)[4u * r + i] = fma(vec4f(a[i]), b, (*acc)[4u * r + i]); }
    }
  }
}

// Output e (< ROWS / 4, the thread's 16 or 32 outputs) of thread t: acc[e / 4][e % 4], at this
// (row, column) of the tile.
fn gemm_output(t: vec2u, e: u32) -> vec2u {
  let i = e / 4u;
  return vec2u(64u * (i / 4u) + 4u * t.y + i % 4u, 4u * t.x + e % 4u);
}
