// Attention core of the UNet's AttnBlock, after the q/k/v 1x1 convs, on (B, C, N) with N = H*W:
//   p[b,i,j] = softmax_j( sum_c q[b,c,i] k[b,c,j] / sqrt(C) )     (B, N, N)
//   y[b,c,i] = sum_j p[b,i,j] v[b,c,j]                             (B, C, N)
// Forward saves p (the softmax probabilities) for backward.

import type { HostTensor } from '../host/tensor';
import { dims, expectShape, zeros } from './tensor';

function qkvShape(q: HostTensor, k: HostTensor, v: HostTensor, what: string): [B: number, C: number, N: number] {
  const [B, C, N] = dims(q, 3, `${what} q`);
  expectShape(k, q.shape, `${what} k`);
  expectShape(v, q.shape, `${what} v`);
  return [B, C, N];
}

export function attentionCore(q: HostTensor, k: HostTensor, v: HostTensor): { y: HostTensor; p: Float32Array } {
  const [B, C, N] = qkvShape(q, k, v, 'attentionCore');
  const scale = 1 / Math.sqrt(C);
  const y = zeros([B, C, N]);
  const p = new Float32Array(B * N * N); // (B, N, N)
  const s = new Float64Array(N); // one row of scores
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      let max = -Infinity;
      for (let j = 0; j < N; j++) {
        let dot = 0;
        for (let c = 0; c < C; c++) dot += q.data[(b * C + c) * N + i] * k.data[(b * C + c) * N + j];
        s[j] = dot * scale;
        max = Math.max(max, s[j]);
      }
      // Subtract the row max before exp so large scores cannot overflow.
      let sum = 0;
      for (let j = 0; j < N; j++) {
        s[j] = Math.exp(s[j] - max);
        sum += s[j];
      }
      for (let j = 0; j < N; j++) p[(b * N + i) * N + j] = s[j] / sum;
    }
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < N; i++) {
        let acc = 0;
        for (let j = 0; j < N; j++) acc += p[(b * N + i) * N + j] * v.data[(b * C + c) * N + j];
        y.data[(b * C + c) * N + i] = acc;
      }
    }
  }
  return { y, p };
}

/** Gradients of sum(y * dy) for y = attentionCore(q, k, v).y, using the saved p; dy (B, C, N). */
export function attentionCoreBackward(
  q: HostTensor,
  k: HostTensor,
  v: HostTensor,
  p: Float32Array,
  dy: HostTensor,
): { dq: HostTensor; dk: HostTensor; dv: HostTensor } {
  const [B, C, N] = qkvShape(q, k, v, 'attentionCoreBackward');
  expectShape(dy, q.shape, 'attentionCoreBackward dy');
  if (p.length !== B * N * N) throw new Error(`attentionCoreBackward: p has ${p.length} values, expected B*N*N = ${B * N * N}`);
  const scale = 1 / Math.sqrt(C);
  const dq = zeros(q.shape);
  const dk = zeros(k.shape);
  const dv = zeros(v.shape);
  const ds = new Float64Array(N * N); // gradient wrt the scaled scores of one batch item
  for (let b = 0; b < B; b++) {
    // dv[c,j] = sum_i p[i,j] dy[c,i]
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let i = 0; i < N; i++) acc += p[(b * N + i) * N + j] * dy.data[(b * C + c) * N + i];
        dv.data[(b * C + c) * N + j] = acc;
      }
    }
    // dp[i,j] = sum_c dy[c,i] v[c,j]; softmax backward: ds[i,j] = p[i,j] (dp[i,j] - sum_j' p[i,j'] dp[i,j'])
    for (let i = 0; i < N; i++) {
      let rowDot = 0;
      for (let j = 0; j < N; j++) {
        let dp = 0;
        for (let c = 0; c < C; c++) dp += dy.data[(b * C + c) * N + i] * v.data[(b * C + c) * N + j];
        ds[i * N + j] = dp;
        rowDot += p[(b * N + i) * N + j] * dp;
      }
      for (let j = 0; j < N; j++) ds[i * N + j] = p[(b * N + i) * N + j] * (ds[i * N + j] - rowDot);
    }
    // scores = scale * q^T k: dq[c,i] = scale sum_j ds[i,j] k[c,j], dk[c,j] = scale sum_i ds[i,j] q[c,i]
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < N; i++) {
        let acc = 0;
        for (let j = 0; j < N; j++) acc += ds[i * N + j] * k.data[(b * C + c) * N + j];
        dq.data[(b * C + c) * N + i] = scale * acc;
      }
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let i = 0; i < N; i++) acc += ds[i * N + j] * q.data[(b * C + c) * N + i];
        dk.data[(b * C + c) * N + j] = scale * acc;
      }
    }
  }
  return { dq, dk, dv };
}
