// Training images held in memory as model-ready tensors: (count, C, S, S) in [-1, 1].
import type { HostTensor } from '../host/tensor';

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

/** The largest centred square of a width x height image: what every user image is cut to before resizing. */
export function centerSquare(width: number, height: number): { x: number; y: number; size: number } {
  const size = Math.min(width, height);
  return { x: Math.floor((width - size) / 2), y: Math.floor((height - size) / 2), size };
}

/** Which images of a folder of `count` belong to `split`: every 10th (9, 19, ...) is held out for evaluation. */
export function splitIndices(count: number, split: 'train' | 'eval' | 'all'): number[] {
  const all = Array.from({ length: count }, (_, i) => i);
  return split === 'all' ? all : all.filter((i) => (i % 10 === 9) === (split === 'eval'));
}

/** Model-ready images from decoded RGB bytes, (N, S, S, 3) row-major as image decoders give them. */
export function datasetFromRgb(id: string, resolution: number, rgb: Uint8Array): ImageDataset {
  const S = resolution;
  const per = 3 * S * S;
  if (rgb.length === 0 || rgb.length % per) throw new Error(`${id}: ${rgb.length} bytes is not a whole number of ${S}x${S} RGB images`);
  const count = rgb.length / per;
  const images = new Float32Array(rgb.length);
  for (let n = 0; n < count; n++) {
    for (let p = 0; p < S * S; p++) {
      for (let c = 0; c < 3; c++) images[n * per + c * S * S + p] = rgb[n * per + p * 3 + c]! / 127.5 - 1;
    }
  }
  return { id, count, channels: 3, resolution: S, images };
}

/** n images spread over the whole set (every count/n-th, from the first), as one (n, C, S, S) array. */
export function spreadImages(data: ImageDataset, n: number): Float32Array {
  const per = data.channels * data.resolution * data.resolution;
  const out = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    const j = Math.floor((i * data.count) / n);
    out.set(data.images.subarray(j * per, (j + 1) * per), i * per);
  }
  return out;
}
