// SiLU (swish), the UNet's nonlinearity: y = x * sigmoid(x), elementwise on any shape.
// Backward needs only x: dy/dx = s + x s (1 - s) = s (1 + x (1 - s)), with s = sigmoid(x).

import type { HostTensor } from '../host/tensor';
import { expectShape, zeros } from './tensor';

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** d silu(x) / dx, shared with the fused GroupNorm+SiLU backward. */
export function siluGrad(x: number): number {
  const s = sigmoid(x);
  return s * (1 + x * (1 - s));
}

export function silu(x: HostTensor): HostTensor {
  const y = zeros(x.shape);
  for (let i = 0; i < x.data.length; i++) y.data[i] = x.data[i] * sigmoid(x.data[i]);
  return y;
}

export function siluBackward(x: HostTensor, dy: HostTensor): HostTensor {
  expectShape(dy, x.shape, 'siluBackward dy');
  const dx = zeros(x.shape);
  for (let i = 0; i < x.data.length; i++) dx.data[i] = dy.data[i] * siluGrad(x.data[i]);
  return dx;
}
