// matmul.wgsl — batched, strided GEMM:  C[b, m, n] = alpha * sum_k A[b, m, k] * B[b, k, n].
//
// Operands are addressed through element strides from the uniforms, so transposed (or batch-
// broadcast, stride 0) views cost nothing:
//   A[b, m, k] = mat_a[b*a_sb + m*a_sm + k*a_sk]      (batch, M, K)
//   B[b, k, n] = mat_b[b*b_sb + k*b_sk + n*b_sn]      (batch, K, N)
//   C[b, m, n] = mat_c[b*c_sb + m*c_sm + n*c_sn]      (batch, M, N)
// Any M, N, K: loads outside the matrices read 0 and stores outside are skipped.
// One workgroup (16x16 threads) per 64x64 output tile of one batch item (grid z = batch), 16-deep
// K slices staged in workgroup memory, 4x4 outputs per thread.
//
// Output: c = (+= with FLAG_ACC). Saves nothing: a building block (attention.ts runs its GEMMs here).

struct Params {
  batch: u32, m: u32, n: u32, k: u32,
  a_sb: u32, a_sm: u32, a_sk: u32,
  b_sb: u32, b_sk: u32, b_sn: u32,
  c_sb: u32, c_sm: u32, c_sn: u32,
  alpha: f32, flags: u32,
}

const FLAG_ACC: u32 = 1u;

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> mat_a: array<f32>;
@group(0) @binding(2) var<storage, read> mat_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> mat_c: array<f32>;

// [k][m] and [k][n]. The spare 65th column staggers rows across memory banks: when a loader walks
// k (a transposed operand), consecutive threads store to consecutive rows without bank conflicts.
var<workgroup> tileA: array<array<f32, 65>, 16>;
var<workgroup> tileB: array<array<f32, 65>, 16>;

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32,
          @builtin(local_invocation_id) lid: vec3u) {
  let m0 = wid.y * TM;
  let n0 = wid.x * TN;
  let a_base = wid.z * P.a_sb;
  let b_base = wid.z * P.b_sb;
  // Each loader walks its operand's smaller-stride axis, so that consecutive threads read
  // consecutive addresses (coalesced) whether or not the operand is transposed.
  let a_kfast = P.a_sk < P.a_sm;
  let b_kfast = P.b_sk < P.b_sn;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < P.k; k0 += TK) {
    for (var r = 0u; r < 4u; r++) {
      let idx = li + r * 256u;
      let am = select(idx % TM, idx / TK, a_kfast);
      let ak = select(idx / TM, idx % TK, a_kfast);
      var av = 0.0;
      if (m0 + am < P.m && k0 + ak < P.k) { av = mat_a[a_base + (m0 + am) * P.a_sm + (k0 + ak) * P.a_sk]; }
      tileA[ak][am] = av;
      let bn = select(idx % TN, idx / TK, b_kfast);
      let bk = select(idx / TN, idx % TK, b_kfast);
      var bv = 0.0;
      if (k0 + bk < P.k && n0 + bn < P.n) { bv = mat_b[b_base + (k0 + bk) * P.b_sk + (n0 + bn) * P.b_sn]; }
      tileB[bk][bn] = bv;
    }
    workgroupBarrier();
    // Thread (tx, ty) owns rows m0 + 4ty .. 4ty+3 and columns n0 + tx + 16j (j < 4): strided
    // columns keep the stores of neighbouring threads contiguous when C is row-major.
    for (var kk = 0u; kk < TK; kk++) {
      let a4 = vec4f(tileA[kk][lid.y * 4u], tileA[kk][lid.y * 4u + 1u], tileA[kk][lid.y * 4u + 2u], tileA[kk][lid.y * 4u + 3u]);
      let b4 = vec4f(tileB[kk][lid.x], tileB[kk][lid.x + 16u], tileB[kk][lid.x + 32u], tileB[kk][lid.x + 48u]);
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a4[i], b4[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  let c_base = wid.z * P.c_sb;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= P.m) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x + j * 16u;
      if (n >= P.n) { continue; }
      let out = c_base + m * P.c_sm + n * P.c_sn;
      let v = P.alpha * acc[i][j];
      if ((P.flags & FLAG_ACC) != 0u) { mat_c[out] += v; } else { mat_c[out] = v; }
    }
  }
}
