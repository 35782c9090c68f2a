// Resampling between UNet resolutions on NCHW tensors:
//   upsampleNearest2x: (N, C, H, W) -> (N, C, 2H, 2W), y[n,c,h,w] = x[n,c,floor(h/2),floor(w/2)]
//   avgPool2x2:        (N, C, H, W) -> (N, C, H/2, W/2), the mean of each 2x2 block (H, W even);
//                      the downsample of resamp_with_conv=false.
// Both are linear with no saved state; backward needs only the shape of dy.

import type { HostTensor } from '../host/tensor';
import { dims, zeros } from './tensor';

export function upsampleNearest2x(x: HostTensor): HostTensor {
  const [N, C, H, W] = dims(x, 4, 'upsampleNearest2x x');
  const y = zeros([N, C, 2 * H, 2 * W]);
  for (let nc = 0; nc < N * C; nc++) {
    for (let h = 0; h < 2 * H; h++) {
      for (let w = 0; w < 2 * W; w++) {
        y.data[(nc * 2 * H + h) * 2 * W + w] = x.data[(nc * H + (h >> 1)) * W + (w >> 1)];
      }
    }
  }
  return y;
}

/** Each input pixel fed a 2x2 block of outputs: its gradient is the sum of that block of dy. */
export function upsampleNearest2xBackward(dy: HostTensor): HostTensor {
  const [N, C, H2, W2] = dims(dy, 4, 'upsampleNearest2xBackward dy');
  if (H2 % 2 !== 0 || W2 % 2 !== 0) {
    throw new Error(`upsampleNearest2xBackward: dy [${dy.shape.join(',')}] has an odd height or width`);
  }
  return sum2x2(dy, N, C, H2 / 2, W2 / 2, 1);
}

export function avgPool2x2(x: HostTensor): HostTensor {
  const [N, C, H, W] = dims(x, 4, 'avgPool2x2 x');
  if (H % 2 !== 0 || W % 2 !== 0) throw new Error(`avgPool2x2: x [${x.shape.join(',')}] has an odd height or width`);
  return sum2x2(x, N, C, H / 2, W / 2, 0.25);
}

/** Each input pixel contributed a quarter of one output: its gradient is dy / 4 of that output. */
export function avgPool2x2Backward(dy: HostTensor): HostTensor {
  const [N, C, Ho, Wo] = dims(dy, 4, 'avgPool2x2Backward dy');
  const dx = zeros([N, C, 2 * Ho, 2 * Wo]);
  for (let nc = 0; nc < N * C; nc++) {
    for (let h = 0; h < 2 * Ho; h++) {
      for (let w = 0; w < 2 * Wo; w++) {
        dx.data[(nc * 2 * Ho + h) * 2 * Wo + w] = 0.25 * dy.data[(nc * Ho + (h >> 1)) * Wo + (w >> 1)];
      }
    }
  }
  return dx;
}

/** scale * (sum of each 2x2 block) of t (N, C, 2Ho, 2Wo) -> (N, C, Ho, Wo). */
function sum2x2(t: HostTensor, N: number, C: number, Ho: number, Wo: number, scale: number): HostTensor {
  const out = zeros([N, C, Ho, Wo]);
  const Wi = 2 * Wo;
  for (let nc = 0; nc < N * C; nc++) {
    for (let h = 0; h < Ho; h++) {
      for (let w = 0; w < Wo; w++) {
        const top = (nc * 2 * Ho + 2 * h) * Wi + 2 * w;
        out.data[(nc * Ho + h) * Wo + w] = scale * (t.data[top] + t.data[top + 1] + t.data[top + Wi] + t.data[top + Wi + 1]);
      }
    }
  }
  return out;
}
