// Launcher for shaders/matmul.wgsl: batched, strided GEMM  C[b,m,n] (= or +=) alpha * sum_k A[b,m,k] B[b,k,n].
import code from '../../shaders/matmul.wgsl?raw';
import { makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import { numel, spanOf, type Tensor } from '../gpu/tensor';
import { gemmLaunch, gemmLibrary } from './gemm';

const shader: KernelSource = { name: 'matmul', code, library: gemmLibrary };
const FLAG_ACC = 1;

/** Element strides of a batched matrix view: [batch, row, column]. A transpose swaps the last two. */
export type Strides = readonly [number, number, number];

export interface BatchedMatmulArgs {
  a: Tensor;            // A[b, m, k] = a[b*sb + m*sm + k*sk]
  b: Tensor;            // B[b, k, n] = b[b*sb + k*sk + n*sn]
  c: Tensor;            // C[b, m, n] = c[b*sb + m*sm + n*sn]: = (+= with `accumulate`)
  batch: number;
  m: number;
  n: number;
  k: number;
  aStrides: Strides;    // [sb, sm, sk]
  bStrides: Strides;    // [sb, sk, sn]
  cStrides?: Strides;   // [sb, sm, sn]; default contiguous [m*n, n, 1]
  alpha?: number;       // default 1
  accumulate: boolean;
  /** A second GEMM of the same sizes, b and alpha in the same dispatch: its own A (with aStrides), B
   *  strides and C (with cStrides). Its a and c must share the first's buffers (views of one tensor). */
  second?: { a: Tensor; bStrides: Strides; c: Tensor };
  label: string;
}

/** Throws unless every element of the strided view [dims] lies inside `t`: on the GPU an out-of-range
 *  index is silently clamped by robust buffer access, never reported. */
function checkExtent(t: Tensor, operand: string, strides: Strides, dims: readonly [number, number, number], label: string): void {
  if (!strides.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new Error(`${label}: matmul ${operand} strides [${strides}] must be non-negative integers`);
  }
  const last = strides.reduce((sum, s, i) => sum + s * (dims[i]! - 1), 0);
  if (last >= numel(t.shape)) {
    throw new Error(
      `${label}: matmul ${operand} of [${dims}] with strides [${strides}] reaches element ${last}, ` +
        `but tensor "${t.label}" [${t.shape}] has ${numel(t.shape)}`,
    );
  }
}

/** One dispatch: c = (or += with `accumulate`) alpha * A B for each of `batch` matrix pairs (and the
 *  same for `second`'s). */
export function batchedMatmul(device: GPUDevice, a: BatchedMatmulArgs): Dispatch {
  const { batch, m, n, k } = a;
  if (![batch, m, n, k].every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${a.label}: matmul sizes batch ${batch}, m ${m}, n ${n}, k ${k} must be positive integers`);
  }
  const cStrides = a.cStrides ?? [m * n, n, 1];
  const s = a.second;
  checkExtent(a.a, 'A', a.aStrides, [batch, m, k], a.label);
  checkExtent(a.b, 'B', a.bStrides, [batch, k, n], a.label);
  checkExtent(a.c, 'C', cStrides, [batch, m, n], a.label);
  if (s) {
    if (s.bStrides[0] !== a.bStrides[0]) throw new Error(`${a.label}: matmul pair's B batch strides differ (${a.bStrides[0]}, ${s.bStrides[0]})`);
    checkExtent(s.a, 'second A', a.aStrides, [batch, m, k], a.label);
    checkExtent(a.b, 'second B', s.bStrides, [batch, k, n], a.label);
    checkExtent(s.c, 'second C', cStrides, [batch, m, n], a.label);
  }
  const as = spanOf(s ? [a.a, s.a] : [a.a], `${a.label}.a`);
  const cs = spanOf(s ? [a.c, s.c] : [a.c], `${a.label}.c`);
  const b2 = s?.bStrides ?? a.bStrides;
  return makeDispatch(device, {
    shader, entry: 'matmul', label: a.label,
    uniforms: {
      batch, m, n, k, a_sb: a.aStrides[0], a_sm: a.aStrides[1], a_sk: a.aStrides[2], b_sb: a.bStrides[0], b_sk: a.bStrides[1], b_sn: a.bStrides[2],
      c_sb: cStrides[0], c_sm: cStrides[1], c_sn: cStrides[2], alpha: a.alpha ?? 1, flags: a.accumulate ? FLAG_ACC : 0,
      a_off: as.offsets[0]!, a_off2: as.offsets[1] ?? 0, c_off: cs.offsets[0]!, c_off2: cs.offsets[1] ?? 0, b_sk2: b2[1], b_sn2: b2[2],
    },
    tensors: [[as.span, 'read'], [a.b, 'read'], [cs.span, 'write']],
    ...gemmLaunch(device, m, n, (s ? 2 : 1) * batch),
    flops: (s ? 2 : 1) * 2 * batch * m * n * k,
  });
}
