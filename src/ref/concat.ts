// Channel concatenation of the UNet's skip connections: a (N, Ca, H, W), b (N, Cb, H, W)
//   -> y (N, Ca+Cb, H, W) with a's channels first (torch.cat([h, hs.pop()], dim=1)).
// Backward splits dy back into the two channel ranges.

import type { HostTensor } from '../host/tensor';
import { dims, expectShape, zeros } from './tensor';

export function concatChannels(a: HostTensor, b: HostTensor): HostTensor {
  const [N, Ca, H, W] = dims(a, 4, 'concatChannels a');
  const [, Cb] = dims(b, 4, 'concatChannels b');
  expectShape(b, [N, Cb, H, W], 'concatChannels b');
  const C = Ca + Cb;
  const S = H * W;
  const y = zeros([N, C, H, W]);
  for (let n = 0; n < N; n++) {
    y.data.set(a.data.subarray(n * Ca * S, (n + 1) * Ca * S), n * C * S);
    y.data.set(b.data.subarray(n * Cb * S, (n + 1) * Cb * S), (n * C + Ca) * S);
  }
  return y;
}

/** Gradients of sum(y * dy) for y = concatChannels(a, b), where a has Ca channels. */
export function concatChannelsBackward(dy: HostTensor, Ca: number): { da: HostTensor; db: HostTensor } {
  const [N, C, H, W] = dims(dy, 4, 'concatChannelsBackward dy');
  if (Ca < 0 || Ca > C) throw new Error(`concatChannelsBackward: Ca=${Ca} is outside dy's ${C} channels`);
  const Cb = C - Ca;
  const S = H * W;
  const da = zeros([N, Ca, H, W]);
  const db = zeros([N, Cb, H, W]);
  for (let n = 0; n < N; n++) {
    da.data.set(dy.data.subarray(n * C * S, (n * C + Ca) * S), n * Ca * S);
    db.data.set(dy.data.subarray((n * C + Ca) * S, (n + 1) * C * S), n * Cb * S);
  }
  return { da, db };
}
