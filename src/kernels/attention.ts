// Launcher for shaders/attention.wgsl: the single-head attention core on (B, C, N), N = H*W: the
// forward fused into one dispatch where a block of query rows fits in workgroup memory, else (and the
// backward) strided GEMMs (matmul.ts) around the row-softmax kernels. See src/ref/attention.ts for the spec.
import code from '../../shaders/attention.wgsl?raw';
import { grid, makeDispatch, placeholder, placeholderSink, type Access, type Dispatch, type KernelSource } from '../gpu/kernel';
import { spanOf, type Tensor } from '../gpu/tensor';
import { batchedMatmul, type Strides } from './matmul';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'attention', code };
const FLAG_PROJ = 1;

/** A stored (B, R, Cc) tensor seen as B matrices [R, Cc], or transposed as [Cc, R] (free: strides only). */
function asIs(r: number, c: number): Strides {
  return [r * c, c, 1];
}
function transposed(r: number, c: number): Strides {
  return [r * c, 1, c];
}

/** (B, C, N) from q; k, v and the other (B, C, N) tensors must match it. */
function dims(q: Tensor, same: readonly Tensor[], label: string): [B: number, C: number, N: number] {
  if (q.shape.length !== 3) {
    throw new Error(`${label}: attention takes q of shape [B, C, N], got [${q.shape}] (reshape [B, C, H, W] views first)`);
  }
  for (const t of same) expectShape(t, q.shape, label);
  return q.shape as [number, number, number];
}

/** One workgroup per row of the B*N rows of N. */
function rowKernel(
  device: GPUDevice, entry: string, B: number, N: number, tensors: readonly (readonly [Tensor, Access])[], label: string,
): Dispatch {
  return makeDispatch(device, { shader, entry, label, uniforms: { rows: B * N, cols: N }, tensors, workgroups: grid(B * N) });
}

export interface AttentionForwardArgs {
  q: Tensor;   // (B, C, N)
  k: Tensor;   // (B, C, N)
  v: Tensor;   // (B, C, N)
  p: Tensor;   // (B, N, N) = softmax_j(q^T k / sqrt(C)), saved for backward
  y: Tensor;   // (B, C, N) = v p^T
  /** The three-dispatch path whatever the shape: what wider rows take, checked by the tests at any size. */
  unfused?: boolean;
  /** The attention block's proj_out and residual in the same dispatch: out = residual + bias + w y
   *  (w (C, C, 1, 1) and bias in one buffer, the flat parameters); only where attentionFusesProjection.
   *  q, k and v must then share one buffer (the fused path reads them through one binding). */
  proj?: { w: Tensor; bias: Tensor; residual: Tensor; out: Tensor };
  label: string;
}

/** Widest C whose projection the fused forward applies: every workgroup reads all of W (C*C floats)
 *  once, so at C = 256 (cifar10's 16 px attention, 64 workgroups per sample) it would read W 64 times
 *  where the 1x1 conv GEMM reads it once per tile; up to 128 (64 KiB, cache-resident) a dispatch saved
 *  is worth more at the batch sizes the page samples at. */
export const PROJ_MAX_CHANNELS = 128;

/** Whether attentionForward can apply the block's proj_out in its own dispatch at this shape. */
export function attentionFusesProjection(C: number, N: number): boolean {
  return fusedAttentionRows(C, N) > 0 && C <= PROJ_MAX_CHANNELS;
}

/** The fused forward's workgroup memory in floats (attention.wgsl's FUSED_FLOATS) and its rows cap. */
const FUSED_FLOATS = 3072;
const FUSED_MAX_ROWS = 8;

/**
 * Query rows per workgroup of the fused forward, or 0 when even one row's q and scores do not fit
 * (N + C > 3072: 64 px attention and wider), which takes the three-dispatch path. More rows per
 * workgroup read k and v fewer times; at most 8, so a sample still spreads over N / 8 workgroups.
 */
export function fusedAttentionRows(C: number, N: number): number {
  let rows = 0;
  for (let r = 1; r <= FUSED_MAX_ROWS && r * (C + N) <= FUSED_FLOATS; r *= 2) rows = r;
  return rows;
}

/** p =, y = (and with `proj`, out =). One fused dispatch (fusedAttentionRows), else three: scores
 *  into p, softmax of p in place, y. */
export function attentionForward(device: GPUDevice, a: AttentionForwardArgs): Dispatch[] {
  const [B, C, N] = dims(a.q, [a.k, a.v, a.y], a.label);
  expectShape(a.p, [B, N, N], a.label);
  const rows = a.unfused ? 0 : fusedAttentionRows(C, N);
  if (a.proj && (rows === 0 || C > PROJ_MAX_CHANNELS)) {
    throw new Error(`${a.label}: the projection fuses only into the fused forward with C <= ${PROJ_MAX_CHANNELS} (C = ${C}, N = ${N}); check attentionFusesProjection`);
  }
  if (rows > 0) {
    const blocks = Math.ceil(N / rows);
    const qkv = spanOf([a.q, a.k, a.v], `${a.label}.qkv`);
    const pr = a.proj;
    if (pr) {
      expectShape(pr.w, [C, C, 1, 1], a.label);
      expectShape(pr.bias, [C], a.label);
      dims(a.q, [pr.residual, pr.out], a.label);
    }
    const wb = pr ? spanOf([pr.w, pr.bias], `${a.label}.proj`) : null;
    const [q_off, k_off, v_off] = qkv.offsets as [number, number, number];
    return [makeDispatch(device, {
      shader, entry: 'forward_fused', label: a.label, uniformStruct: 'FusedParams',
      uniforms: {
        batch: B, c: C, n: N, rows, blocks, scale: 1 / Math.sqrt(C), q_off, k_off, v_off,
        w_off: wb?.offsets[0] ?? 0, b_off: wb?.offsets[1] ?? 0, flags: pr ? FLAG_PROJ : 0,
      },
      tensors: [
        [qkv.span, 'read'], [a.p, 'write'], [a.y, 'write'],
        [wb?.span ?? placeholder(device), 'read'], [pr?.residual ?? placeholder(device), 'read'], [pr?.out ?? placeholderSink(device), 'write'],
      ],
      workgroups: grid(B * blocks),
      // the two products (the softmax is not counted, as in the unfused path), and the projection's
      flops: 4 * B * N * N * C + (pr ? 2 * B * N * C * C : 0),
    })];
  }
  return [
    // p[i,j] = sum_c q[c,i] k[c,j] / sqrt(C)
    batchedMatmul(device, {
      a: a.q, b: a.k, c: a.p, batch: B, m: N, n: N, k: C,
      aStrides: transposed(C, N), bStrides: asIs(C, N), alpha: 1 / Math.sqrt(C), accumulate: false, label: `${a.label}.scores`,
    }),
    rowKernel(device, 'softmax_forward', B, N, [[a.p, 'write']], `${a.label}.softmax`),
    // y[c,i] = sum_j v[c,j] p[i,j]
    batchedMatmul(device, {
      a: a.v, b: a.p, c: a.y, batch: B, m: C, n: N, k: N,
      aStrides: asIs(C, N), bStrides: transposed(N, N), accumulate: false, label: `${a.label}.y`,
    }),
  ];
}

export interface AttentionBackwardArgs {
  q: Tensor;        // (B, C, N) forward inputs
  k: Tensor;
  v: Tensor;
  p: Tensor;        // (B, N, N) saved by the forward
  dy: Tensor;       // (B, C, N)
  dq: Tensor;       // (B, C, N) =
  dk: Tensor;       // (B, C, N) =
  dv: Tensor;       // (B, C, N) =
  scratch: Tensor;  // (B, N, N): dS (the gradient wrt the scaled scores; dP first, unfused)
  /** dP and its softmax backward as two dispatches whatever the shape (the tests' check of the fused one). */
  unfused?: boolean;
  label: string;
}

/** dq =, dk =, dv =. dS into scratch (one fused dispatch where fusedAttentionRows, else dP and the
 *  softmax backward in place), then dv, dq and dk. */
export function attentionBackward(device: GPUDevice, a: AttentionBackwardArgs): Dispatch[] {
  const [B, C, N] = dims(a.q, [a.k, a.v, a.dy, a.dq, a.dk, a.dv], a.label);
  expectShape(a.p, [B, N, N], a.label);
  expectShape(a.scratch, [B, N, N], a.label);
  const scale = 1 / Math.sqrt(C);
  const rows = a.unfused ? 0 : fusedAttentionRows(C, N);
  const blocks = rows > 0 ? Math.ceil(N / rows) : 0;
  const ds = rows > 0
    ? [makeDispatch(device, {
      shader, entry: 'backward_ds_fused', label: `${a.label}.ds`, uniformStruct: 'DsParams',
      uniforms: { batch: B, c: C, n: N, rows, blocks },
      tensors: [[a.dy, 'read'], [a.v, 'read'], [a.p, 'read'], [a.scratch, 'write']],
      workgroups: grid(B * blocks),
      flops: 2 * B * N * N * C,
    })]
    : [
      // dP[i,j] = sum_c dy[c,i] v[c,j]
      batchedMatmul(device, {
        a: a.dy, b: a.v, c: a.scratch, batch: B, m: N, n: N, k: C,
        aStrides: transposed(C, N), bStrides: asIs(C, N), accumulate: false, label: `${a.label}.dp`,
      }),
      rowKernel(device, 'softmax_backward', B, N, [[a.p, 'read'], [a.scratch, 'write']], `${a.label}.ds`),
    ];
  return [
    ...ds,
    // dv[c,j] = sum_i dy[c,i] p[i,j]
    batchedMatmul(device, {
      a: a.dy, b: a.p, c: a.dv, batch: B, m: C, n: N, k: N,
      aStrides: asIs(C, N), bStrides: asIs(N, N), accumulate: false, label: `${a.label}.dv`,
    }),
    ...queryKeyGrads(device, a, B, C, N, scale),
  ];
}

/**
 * dq[c,i] = sum_j k[c,j] dS[i,j] / sqrt(C) and dk[c,j] = sum_i q[c,i] dS[i,j] / sqrt(C): two GEMMs of
 * one shape over the same dS, in one dispatch where q and k are views of one tensor and so are dq and
 * dk (the UNet's stacked q/k/v and their gradients), else in two.
 */
function queryKeyGrads(device: GPUDevice, a: AttentionBackwardArgs, B: number, C: number, N: number, scale: number): Dispatch[] {
  const dq = { a: a.k, b: a.scratch, c: a.dq, batch: B, m: C, n: N, k: N, aStrides: asIs(C, N), bStrides: transposed(N, N), alpha: scale, accumulate: false };
  const dk = { a: a.q, bStrides: asIs(N, N), c: a.dk };
  if (a.q.buffer === a.k.buffer && a.dq.buffer === a.dk.buffer) return [batchedMatmul(device, { ...dq, second: dk, label: `${a.label}.dq+dk` })];
  return [batchedMatmul(device, { ...dq, label: `${a.label}.dq` }), batchedMatmul(device, { ...dq, ...dk, label: `${a.label}.dk` })];
}
