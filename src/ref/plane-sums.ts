// Per-(sample, channel) sums of a (B, C, H, W) tensor in the order the GPU sums them (conv2d.wgsl's
// plane sums, groupnorm.wgsl FLAG_PLANE): per plane, 64 lanes each summing every 64th value in order,
// then the lanes added pairwise (lane l += lane l + s for s = 32, 16, ..., 1), all in f32. So the
// result is their bits, not merely close: the reference for the tests that check those kernels to
// the last bit (and for the bias gradients they feed).
import type { HostTensor } from '../host/tensor';
import { dims } from './tensor';

const LANES = 64;

/** (B, C): each plane of x summed in the GPU's order, in f32. */
export function planeSumsInOrder(x: HostTensor): HostTensor {
  const [B, C, H, W] = dims(x, 4, 'planeSumsInOrder');
  const hw = H * W;
  const out = new Float32Array(B * C);
  const lanes = new Float32Array(LANES);
  for (let plane = 0; plane < B * C; plane++) {
    lanes.fill(0);
    for (let l = 0; l < LANES; l++) {
      for (let i = l; i < hw; i += LANES) lanes[l] = lanes[l]! + x.data[plane * hw + i]!;
    }
    for (let s = LANES / 2; s > 0; s >>= 1) {
      for (let l = 0; l < s; l++) lanes[l] = lanes[l]! + lanes[l + s]!;
    }
    out[plane] = lanes[0]!;
  }
  return { shape: [B, C], data: out };
}
