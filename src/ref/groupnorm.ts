// GroupNorm (Wu & He 2018) on (N, C, ...) tensors, optionally fused with a following SiLU.
//   channels split into G groups of C/G; per (n, g) over its C/G channels and all spatial positions:
//   mean, biased variance var (like PyTorch), rstd = 1 / sqrt(var + eps)
//   h = (x - mean) * rstd * w[c] + b[c];   y = h, or silu(h) when fused
// Forward saves mean and rstd, (N, G) each, for backward; backward recomputes xhat and h from them.

import type { HostTensor } from '../host/tensor';
import { siluGrad, sigmoid } from './activation';
import { expectShape, zeros } from './tensor';


interface NormShape {
  N: number;
  C: number;
  /** Spatial positions per channel (H*W for images, 1 for (N, C)). */
  S: number;
  /** Channels per group. */
  Cg: number;
}

function normShape(x: HostTensor, w: HostTensor, b: HostTensor, groups: number, what: string): NormShape {
  if (x.shape.length < 2) throw new Error(`${what}: x has shape [${x.shape.join(',')}], expected (N, C, ...)`);
  const [N, C] = x.shape;
  if (groups < 1 || C % groups !== 0) throw new Error(`${what}: C=${C} channels is not divisible by ${groups} groups`);
  expectShape(w, [C], `${what} w`);
  expectShape(b, [C], `${what} b`);
  return { N, C, S: x.data.length / (N * C), Cg: C / groups };
}

export function groupNorm(
  x: HostTensor,
  w: HostTensor,
  b: HostTensor,
  groups: number,
  eps = 1e-6,
  silu = false,
): { y: HostTensor; mean: Float32Array; rstd: Float32Array } {
  const { N, S, Cg } = normShape(x, w, b, groups, 'groupNorm');
  const y = zeros(x.shape);
  const mean = new Float32Array(N * groups); // (N, G)
  const rstd = new Float32Array(N * groups); // (N, G)
  const count = Cg * S;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      // A group is one contiguous run of Cg*S values: channels g*Cg .. g*Cg+Cg-1 of sample n.
      const base = (n * groups + g) * count;
      let sum = 0;
      for (let i = 0; i < count; i++) sum += x.data[base + i];
      // Normalize with the stored (float32) mean and rstd so forward and backward see the same values.
      mean[n * groups + g] = sum / count;
      const m = mean[n * groups + g];
      let sumSq = 0;
      for (let i = 0; i < count; i++) sumSq += (x.data[base + i] - m) ** 2;
      rstd[n * groups + g] = 1 / Math.sqrt(sumSq / count + eps);
      const r = rstd[n * groups + g];
      for (let i = 0; i < count; i++) {
        const c = g * Cg + Math.floor(i / S);
        const h = (x.data[base + i] - m) * r * w.data[c] + b.data[c];
        y.data[base + i] = silu ? h * sigmoid(h) : h;
      }
    }
  }
  return { y, mean, rstd };
}

/**
 * Gradients of sum(y * dy) for y = groupNorm(x, w, b, groups, eps, silu), from the saved mean/rstd.
 * With silu, dy is the gradient wrt the SiLU output; h is recomputed to apply silu'(h) first.
 */
export function groupNormBackward(
  x: HostTensor,
  w: HostTensor,
  b: HostTensor,
  mean: Float32Array,
  rstd: Float32Array,
  dy: HostTensor,
  groups: number,
  silu = false,
): { dx: HostTensor; dw: HostTensor; db: HostTensor } {
  const { N, C, S, Cg } = normShape(x, w, b, groups, 'groupNormBackward');
  expectShape(dy, x.shape, 'groupNormBackward dy');
  if (mean.length !== N * groups || rstd.length !== N * groups) {
    throw new Error(`groupNormBackward: mean/rstd have ${mean.length}/${rstd.length} values, expected N*G = ${N * groups}`);
  }
  const dx = zeros(x.shape);
  const dwSum = new Float64Array(C);
  const dbSum = new Float64Array(C);
  const count = Cg * S;
  const dxhat = new Float64Array(count);
  const xhat = new Float64Array(count);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      const base = (n * groups + g) * count;
      const m = mean[n * groups + g];
      const r = rstd[n * groups + g];
      // dh = dy (through silu'(h) when fused); dw += dh * xhat; db += dh; dxhat = dh * w.
      let meanDxhat = 0;
      let meanDxhatXhat = 0;
      for (let i = 0; i < count; i++) {
        const c = g * Cg + Math.floor(i / S);
        xhat[i] = (x.data[base + i] - m) * r;
        const dh = silu ? dy.data[base + i] * siluGrad(xhat[i] * w.data[c] + b.data[c]) : dy.data[base + i];
        dwSum[c] += dh * xhat[i];
        dbSum[c] += dh;
        dxhat[i] = dh * w.data[c];
        meanDxhat += dxhat[i];
        meanDxhatXhat += dxhat[i] * xhat[i];
      }
      meanDxhat /= count;
      meanDxhatXhat /= count;
      // xhat depends on x directly and through mean and rstd; projecting those out of dxhat gives
      // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
      for (let i = 0; i < count; i++) {
        dx.data[base + i] = r * (dxhat[i] - meanDxhat - xhat[i] * meanDxhatXhat);
      }
    }
  }
  return { dx, dw: { shape: [C], data: Float32Array.from(dwSum) }, db: { shape: [C], data: Float32Array.from(dbSum) } };
}
