// gemm_tiles.wgsl — the GEMM backend of the fp32, f16 and matrix-emulated tiers: vec4 tiles in
// workgroup memory and register-blocked f32 FMAs (gemm.wgsl holds the interface and the layout).
//
//   tileA[k][g] = A at slice row k, tile rows gemm_a_row(g, i), i < 4  (ROWS/4 groups per k)
//   tileB[k][g] = Bm at slice row k, tile columns g + TX j, j < 4       (TN/4 groups per k)
// Thread (tx, ty) reads A groups ty and TY + ty (the second with ROWS = 128) and B group tx. Per k it
// reads one vec4 of B and ROW_BLOCKS vec4s of A from workgroup memory for 4 ROW_BLOCKS vec4 FMAs (16
// or 32 scalar FMAs per 2 or 3 vec4 reads). Each tile row is padded by one vec4: a loader whose
// consecutive threads take consecutive k (an operand contiguous along k) then stores to different
// memory banks (row strides of 9, 17 and 33 vec4s are 1 mod 8: the 8 stores of a quarter warp hit 8
// different 16-byte bank groups).
//
// Operand precision (src/gpu/tier.ts): a tier's variant (src/kernels/gemm.ts) declares GemmOperand,
// the vec4 type a tile holds, and gemm_operand(v), what a staged vec4 becomes:
//   fp32             vec4f, v itself (the engine before tiers, bit for bit);
//   matrix-emulated  vec4f, f16_round4(v): f16 values held in f32;
//   f16              vec4h (`enable f16`), the same values: both tiers give the same bits.
// The multiply widens them to f32 and accumulates in f32 in every tier.

override B_ROW: u32 = TN / 4u + 1u;                     // vec4s per tileB row, one of them padding
var<workgroup> tileA: array<GemmOperand, TK * (ROWS / 4u + 1u)>;
var<workgroup> tileB: array<GemmOperand, TK * B_ROW>;

fn gemm_store_a(s: vec2u, v: vec4f) {
  tileA[s.x * (ROWS / 4u + 1u) + s.y] = gemm_operand(v);
}

fn gemm_store_b(s: vec2u, v: vec4f) {
  tileB[s.x * B_ROW + s.y] = gemm_operand(v);
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
    if (ROW_BLOCKS == 2u) {
      let a2 = vec4f(tileA[kk * (ROWS / 4u + 1u) + TY + t.y]);
      (*acc)[4] = fma(vec4f(a2.x), b, (*acc)[4]);
      (*acc)[5] = fma(vec4f(a2.y), b, (*acc)[5]);
      (*acc)[6] = fma(vec4f(a2.z), b, (*acc)[6]);
      (*acc)[7] = fma(vec4f(a2.w), b, (*acc)[7]);
    }
  }
}

// The accumulators are the thread's own registers already.
fn gemm_finish(acc: ptr<function, GemmAcc>, t: vec2u) {}
