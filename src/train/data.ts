// Training images held in memory as model-ready tensors: (count, C, S, S) in [-1, 1].
import type { HostTensor } from '../io/safetensors';

export interface ImageDataset {
  /** A name that identifies the data (stored in checkpoints). */
  readonly id: string;
  readonly count: number;
  readonly channels: number;
  readonly resolution: number;
  /** All images, (count, C, S, S), values in [-1, 1]. */
  readonly images: Float32Array;
}

export function datasetFromTensor(id: string, t: HostTensor): ImageDataset {
  const [count, channels, h, w] = t.shape;
  if (t.shape.length !== 4 || h !== w || !count) throw new Error(`${id}: images must be (N, C, S, S), got [${t.shape}]`);
  return { id, count, channels: channels!, resolution: h!, images: t.data };
}

/**
 * Copies images `indices` into `out` (B, C, S, S), mirroring those with flip[i] horizontally
 * (the reference's random_flip augmentation).
 */
export function gatherBatch(data: ImageDataset, indices: readonly number[], flip: readonly boolean[], out: Float32Array): void {
  const S = data.resolution;
  const per = data.channels * S * S;
  indices.forEach((idx, b) => {
    const src = data.images.subarray(idx * per, (idx + 1) * per);
    const dst = out.subarray(b * per, (b + 1) * per);
    if (!flip[b]) {
      dst.set(src);
      return;
    }
    for (let row = 0; row < data.channels * S; row++) {
      for (let x = 0; x < S; x++) dst[row * S + x] = src[row * S + S - 1 - x]!;
    }
  });
}
