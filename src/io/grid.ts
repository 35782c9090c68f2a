// Image tensors (values in [-1, 1], NCHW) laid out as an RGBA grid for display or PNG export.
import { pixelByte } from '../host/pixels';

export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const GAP = 2;

/**
 * Tiles the C x S x S images (C = 1 or 3) of `images` in `rows` x `cols` cells, row-major (image
 * index = row * cols + col), separated by a white gap; cells past the last image stay white.
 */
export function imageGrid(images: Float32Array, C: number, S: number, rows: number, cols: number): RgbaImage {
  if (C !== 1 && C !== 3) throw new Error(`grid: images need 1 or 3 channels, got ${C}`);
  const per = C * S * S;
  const count = images.length / per;
  if (!Number.isInteger(count) || count > rows * cols) {
    throw new Error(`grid: ${images.length} values are not at most ${rows}x${cols} images of ${C}x${S}x${S}`);
  }
  const width = cols * S + (cols + 1) * GAP;
  const height = rows * S + (rows + 1) * GAP;
  const data = new Uint8Array(width * height * 4).fill(255);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols && r * cols + c < count; c++) {
      const img = (r * cols + c) * per;
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const o = ((GAP + r * (S + GAP) + y) * width + GAP + c * (S + GAP) + x) * 4;
          for (let ch = 0; ch < 3; ch++) data[o + ch] = pixelByte(images[img + (C === 3 ? ch : 0) * S * S + y * S + x]!);
        }
      }
    }
  }
  return { width, height, data };
}
