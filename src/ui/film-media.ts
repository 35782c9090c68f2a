// What the studio derives from a chain's pixels on the page: statistics of one frame (for the
// filmstrip's details), the steps a filmstrip shows, images tiled and scaled up for export, and the
// denoising as an animated GIF (gifenc encodes; nothing hand-written).
import { GIFEncoder, applyPalette, quantize } from 'gifenc';
import type { Filmstrip, Pixels } from '../worker/api';

export interface FrameStats {
  /** Mean and standard deviation of the RGB values, in the model's [-1, 1] units. */
  mean: number;
  std: number;
  /** Share of RGB values at the display range's ends (0 or 255): what the display clips. */
  clipped: number;
}

/** Statistics of image `i` of a set, from its RGBA8 bytes (8-bit precision). */
export function frameStats(p: Pixels, i: number): FrameStats {
  const per = p.size * p.size * 4;
  if (!(i >= 0 && i < p.count)) throw new Error(`frame ${i} is not in this set of ${p.count}`);
  let sum = 0, sq = 0, clipped = 0, n = 0;
  for (let j = i * per; j < (i + 1) * per; j++) {
    if (j % 4 === 3) continue;
    const b = p.rgba[j]!;
    const v = b / 127.5 - 1;
    sum += v;
    sq += v * v;
    if (b === 0 || b === 255) clipped++;
    n++;
  }
  const mean = sum / n;
  return { mean, std: Math.sqrt(Math.max(0, sq / n - mean * mean)), clipped: clipped / n };
}

/** An RGBA image (width x height x 4 bytes). */
export interface Raster {
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** The smallest whole scale that draws a `size` px image at least `min` px wide (16 px: 8x, 32 px: 4x). */
export function exportScale(size: number, min = 128): number {
  return Math.max(1, Math.ceil(min / size));
}

/**
 * Images (each `size` x `size` RGBA) tiled `cols` to a row, each `scale`x nearest-neighbour, `gap`
 * white pixels apart: the exported grids and strips, and the GIF's frames.
 */
export function tile(images: readonly Uint8Array[], size: number, cols: number, scale: number, gap: number): Raster {
  const c = Math.max(1, Math.min(cols, images.length)), rows = Math.ceil(images.length / c), cell = size * scale;
  const width = c * cell + (c - 1) * gap, height = rows * cell + (rows - 1) * gap;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  images.forEach((img, n) => {
    const x0 = (n % c) * (cell + gap), y0 = Math.floor(n / c) * (cell + gap);
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const src = (Math.floor(y / scale) * size + Math.floor(x / scale)) * 4;
        rgba.set(img.subarray(src, src + 4), ((y0 + y) * width + x0 + x) * 4);
      }
    }
  });
  return { width, height, rgba };
}

/** The images of a set, each a view of its bytes. */
export function imagesOf(p: Pixels): Uint8Array[] {
  const per = p.size * p.size * 4;
  return Array.from({ length: p.count }, (_, i) => p.rgba.subarray(i * per, (i + 1) * per));
}

/**
 * The steps a filmstrip shows, the same for its x_t and x0 rows: every step when they fit in
 * `most` columns, else every `stride`-th from the first, always with the last step. Column j shows
 * the x_t that goes into step columns[j] and the x0 predicted there.
 */
export function filmColumns(steps: number, most: number): { columns: number[]; stride: number } {
  if (steps <= 0) return { columns: [], stride: 1 };
  const stride = steps <= most ? 1 : Math.ceil((steps - 1) / (most - 1));
  const columns: number[] = [];
  for (let k = 0; k < steps; k += stride) columns.push(k);
  if (columns.at(-1) !== steps - 1) columns.push(steps - 1);
  return { columns, stride };
}

/**
 * The denoising of one sample as a looping GIF: one frame per step, x_t after the step beside the x0
 * predicted at it, `scale`x nearest-neighbour; the last frame holds for a second.
 */
export function denoisingGif(film: Filmstrip, scale = 8, delayMs = 150): Uint8Array {
  const steps = film.x0s.count;
  if (steps === 0) throw new Error('the chain has no step to animate yet');
  const per = film.xs.size * film.xs.size * 4;
  const gif = GIFEncoder();
  for (let k = 0; k < steps; k++) {
    const frame = tile([film.xs.rgba.subarray((k + 1) * per, (k + 2) * per), film.x0s.rgba.subarray(k * per, (k + 1) * per)], film.xs.size, 2, scale, scale);
    const palette = quantize(frame.rgba, 256);
    gif.writeFrame(applyPalette(frame.rgba, palette), frame.width, frame.height, { palette, delay: k === steps - 1 ? 1000 : delayMs, repeat: 0 });
  }
  gif.finish();
  return gif.bytes();
}
