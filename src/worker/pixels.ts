// Float images on their way to the page: (N, C, S, S) values in [-1, 1] as RGBA8 Pixels.
import { toRgba8 } from '../host/pixels';
import type { Pixels } from './api';

export function toPixels(images: Float32Array, channels: number, size: number): Pixels {
  const per = channels * size * size;
  if (images.length % per !== 0) throw new Error(`${images.length} values are not whole ${channels}x${size}x${size} images`);
  return { count: images.length / per, size, rgba: toRgba8(images, channels, size * size) };
}
