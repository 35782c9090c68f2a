// gemm_matrix.wgsl — the GEMM backend of the matrix tier: f16 tiles in workgroup memory multiplied by
// subgroup matrices (tensor cores), f32 results (gemm.wgsl holds the interface and the layout). The
// module enables f16, subgroups and chromium_experimental_subgroup_matrix (src/kernels/gemm.ts).
// Not yet run on a GPU: opt-in (--precision matrix), to be matched against matrix-emulated, which
// stages the same f16 operands (bench/gpu.sh TIERS).
//
// A 64 x 64 tile (ROWS = TN = 64 only: the launcher forces it) is 16 blocks of 16 x 16. The workgroup's
// 256 threads are 8 subgroups of 32 (the tier needs that subgroup size, gpu/tier.ts); subgroup s owns
// rows 16 (s % 4) .. +16 and columns 32 (s / 4) .. +32: two result matrices, each K slice one left
// matrix (its 16 rows of A) and two right ones (its 2 x 16 columns of Bm).
//   tileA[k * TM + m] = A[m, k] as f16: the left matrix is column-major there (stride TM)
//   tileB[k * TN + n] = Bm[k, n] as f16: the right matrix is row-major (stride TN)
// gemm_finish stores both results in tileC (row-major, 64 x 64 f32) and reads each thread's outputs
// from there into its GemmAcc, so the families' epilogues are those of the other backends.
// A subgroup's index is its first invocation's li over 32: subgroups of consecutive invocations, as
// NVIDIA's are (a GPU run checks the results against the emulated backend's).

const TM: u32 = 64u;                 // the tile's rows (ROWS = 64)
const SUBGROUP: u32 = 32u;
var<workgroup> tileA: array<f16, TK * TM>;
var<workgroup> tileB: array<f16, TK * TN>;
var<workgroup> tileC: array<f32, TM * TN>;
var<private> result0: subgroup_matrix_result<f32, 16, 16>;
var<private> result1: subgroup_matrix_result<f32, 16, 16>;

fn gemm_store_a(s: vec2u, v: vec4f) {
  let h = vec4h(f16_round4(v));
  for (var i = 0u; i < 4u; i++) { tileA[s.x * TM + gemm_a_row(s.y, i)] = h[i]; }
}

fn gemm_store_b(s: vec2u, v: vec4f) {
  let h = vec4h(f16_round4(v));
  for (var j = 0u; j < 4u; j++) { tileB[s.x * TN + gemm_b_col(s.y, j)] = h[j]; }
}

// The (first row, first column) of the blocks of thread t's subgroup.
fn gemm_subgroup_origin(t: vec2u) -> vec2u {
  let s = subgroupBroadcastFirst(t.y * TX + t.x) / SUBGROUP;
  return vec2u(16u * (s % 4u), 32u * (s / 4u));
}

fn gemm_multiply(acc: ptr<function, GemmAcc>, t: vec2u) {
  let o = gemm_subgroup_origin(t);
  let a = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&tileA, o.x, true, TM);
  let b0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&tileB, o.y, false, TN);
  let b1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&tileB, o.y + 16u, false, TN);
  result0 = subgroupMatrixMultiplyAccumulate(a, b0, result0);
  result1 = subgroupMatrixMultiplyAccumulate(a, b1, result1);
}

fn gemm_finish(acc: ptr<function, GemmAcc>, t: vec2u) {
  let o = gemm_subgroup_origin(t);
  subgroupMatrixStore(&tileC, o.x * TN + o.y, result0, false, TN);
  subgroupMatrixStore(&tileC, o.x * TN + o.y + 16u, result1, false, TN);
  workgroupBarrier();
  for (var e = 0u; e < 16u; e++) {
    let p = gemm_output(t, e);
    (*acc)[e / 4u][e % 4u] = tileC[p.x * TN + p.y];
  }
}
