// Fully connected layer (PyTorch nn.Linear layout), used by the time-embedding MLP and temb_proj.
//   x (N, In), w (Out, In), b (Out) -> y (N, Out);   y[n,o] = b[o] + sum_i w[o,i] x[n,i]
// Backward needs only x and w. Sums run in float64 and round once on store.

import type { HostTensor } from '../host/tensor';
import { dims, expectShape, zeros } from './tensor';

export function linear(x: HostTensor, w: HostTensor, b: HostTensor | null): HostTensor {
  const [N, In] = dims(x, 2, 'linear x');
  const [Out] = dims(w, 2, 'linear w');
  expectShape(w, [Out, In], 'linear w');
  if (b !== null) expectShape(b, [Out], 'linear b');
  const y = zeros([N, Out]);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Out; o++) {
      let sum = b === null ? 0 : b.data[o];
      for (let i = 0; i < In; i++) sum += w.data[o * In + i] * x.data[n * In + i];
      y.data[n * Out + o] = sum;
    }
  }
  return y;
}

/** Gradients of sum(y * dy) for y = linear(x, w, b); dy (N, Out). */
export function linearBackward(x: HostTensor, w: HostTensor, dy: HostTensor): { dx: HostTensor; dw: HostTensor; db: HostTensor } {
  const [N, In] = dims(x, 2, 'linearBackward x');
  const [Out] = dims(w, 2, 'linearBackward w');
  expectShape(w, [Out, In], 'linearBackward w');
  expectShape(dy, [N, Out], 'linearBackward dy');
  const dx = zeros([N, In]);
  const dw = zeros([Out, In]);
  const db = zeros([Out]);
  // dx = dy w
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < In; i++) {
      let sum = 0;
      for (let o = 0; o < Out; o++) sum += dy.data[n * Out + o] * w.data[o * In + i];
      dx.data[n * In + i] = sum;
    }
  }
  // dw = dy^T x, db = column sums of dy
  for (let o = 0; o < Out; o++) {
    let sumB = 0;
    for (let n = 0; n < N; n++) sumB += dy.data[n * Out + o];
    db.data[o] = sumB;
    for (let i = 0; i < In; i++) {
      let sum = 0;
      for (let n = 0; n < N; n++) sum += dy.data[n * Out + o] * x.data[n * In + i];
      dw.data[o * In + i] = sum;
    }
  }
  return { dx, dw, db };
}
