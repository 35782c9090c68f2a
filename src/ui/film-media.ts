// What the studio derives from a chain's pixels on the page: statistics of one frame (for the
// filmstrip's details) and the denoising as an animated GIF (gifenc encodes; nothing hand-written).
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

/** A frame of `count` images side by side (`gap` scaled pixels apart), each scaled `scale`x, in RGBA. */
function sideBySide(images: Uint8Array[], size: number, scale: number, gap: number): { width: number; height: number; rgba: Uint8Array } {
  const cell = size * scale;
  const width = images.length * cell + (images.length - 1) * gap, height = cell;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  images.forEach((img, n) => {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < cell; x++) {
        const src = (Math.floor(y / scale) * size + Math.floor(x / scale)) * 4;
        rgba.set(img.subarray(src, src + 4), (y * width + n * (cell + gap) + x) * 4);
      }
    }
  });
  return { width, height, rgba };
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
    const frame = sideBySide([film.xs.rgba.subarray((k + 1) * per, (k + 2) * per), film.x0s.rgba.subarray(k * per, (k + 1) * per)], film.xs.size, scale, scale);
    const palette = quantize(frame.rgba, 256);
    gif.writeFrame(applyPalette(frame.rgba, palette), frame.width, frame.height, { palette, delay: k === steps - 1 ? 1000 : delayMs, repeat: 0 });
  }
  gif.finish();
  return gif.bytes();
}
