// matmul.wgsl — batched, strided GEMM:  C[b, m, n] = alpha * sum_k A[b, m, k] * B[b, k, n].
//
// Operands are addressed through element strides from the uniforms, so transposed (or batch-
// broadcast, stride 0) views cost nothing:
//   A[b, m, k] = mat_a[b*a_sb + m*a_sm + k*a_sk]      (batch, M, K)
//   B[b, k, n] = mat_b[b*b_sb + k*b_sk + n*b_sn]      (batch, K, N)
//   C[b, m, n] = mat_c[b*c_sb + m*c_sm + n*c_sn]      (batch, M, N)
// Any M, N, K: loads outside the matrices read 0 and stores outside are skipped.
// One workgroup per ROWS x TN output tile of one batch item (grid z = batch), on gemm.wgsl's
// microkernel (16-deep K slices of vec4s in workgroup memory, 4x4 or 8x4 outputs per thread).
//
// Two GEMMs of one shape and one B in one dispatch (grid z = pairs * batch; the attention backward's
// dq = k dS^T and dk = q dS): pair 1 reads A from a_off2, B with the strides (b_sk2, b_sn2) and writes C
// at c_off2 (A and C bind spans holding both). The same sums as two dispatches, so the same bits.
// Output: c = (+= with FLAG_ACC). Saves nothing: a building block (attention.ts runs its GEMMs here).

struct Params {
  batch: u32, m: u32, n: u32, k: u32,
  a_sb: u32, a_sm: u32, a_sk: u32,
  b_sb: u32, b_sk: u32, b_sn: u32,
  c_sb: u32, c_sm: u32, c_sn: u32,
  alpha: f32, flags: u32,
  a_off: u32, a_off2: u32, c_off: u32, c_off2: u32, b_sk2: u32, b_sn2: u32,
}

const FLAG_ACC: u32 = 1u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> mat_a: array<f32>;
@group(0) @binding(2) var<storage, read> mat_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> mat_c: array<f32>;

@compute @workgroup_size(GEMM_THREADS)
fn matmul(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let lid = gemm_thread(li);
  let m0 = wid.y * ROWS;
  let n0 = wid.x * TN;
  let second = wid.z >= P.batch;                    // pair 1 (per workgroup: uniform)
  let z = select(wid.z, wid.z - P.batch, second);
  let a_base = select(P.a_off, P.a_off2, second) + z * P.a_sb;
  let b_base = z * P.b_sb;
  let b_sk = select(P.b_sk, P.b_sk2, second);
  let b_sn = select(P.b_sn, P.b_sn2, second);
  // Each loader walks its operand's smaller-stride axis, so that consecutive threads read
  // consecutive addresses (coalesced) whether or not the operand is transposed.
  let a_kfast = P.a_sk < P.a_sm;
  let b_kfast = b_sk < b_sn;
  var acc: GemmAcc;
  for (var k0 = 0u; k0 < P.k; k0 += TK) {
    for (var r = 0u; r < A_LOADS; r++) {
      let s = gemm_loader_slot(li, r, ROWS / 4u, a_kfast);
      var a = vec4f();
      if (k0 + s.x < P.k) {
        for (var i = 0u; i < 4u; i++) {
          let m = m0 + gemm_a_row(s.y, i);
          if (m < P.m) { a[i] = mat_a[a_base + m * P.a_sm + (k0 + s.x) * P.a_sk]; }
        }
      }
      gemm_store_a(s, a);
    }
    for (var r = 0u; r < B_LOADS; r++) {
      let bs = gemm_loader_slot(li, r, TN / 4u, b_kfast);
      var b = vec4f();
      if (k0 + bs.x < P.k) {
        for (var j = 0u; j < 4u; j++) {
          let n = n0 + gemm_b_col(bs.y, j);
          if (n < P.n) { b[j] = mat_b[b_base + (k0 + bs.x) * b_sk + n * b_sn]; }
        }
      }
      gemm_store_b(bs, b);
    }
    workgroupBarrier();
    gemm_multiply(&acc, lid);
    workgroupBarrier();
  }
  gemm_finish(&acc, lid);
  let c_base = select(P.c_off, P.c_off2, second) + z * P.c_sb;
  for (var e = 0u; e < GEMM_OUTPUTS; e++) {
    let o = gemm_output(lid, e);
    let m = m0 + o.x;
    let n = n0 + o.y;
    if (m >= P.m || n >= P.n) { continue; }
    let out = c_base + m * P.c_sm + n * P.c_sn;
    let v = P.alpha * gemm_result(acc, e);
    if ((P.flags & FLAG_ACC) != 0u) { mat_c[out] += v; } else { mat_c[out] = v; }
  }
}
