// User image folders: decoding, centre crop, resize, splits, and the errors for bad folders and files.
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imagesFromDir, listImages } from '../../src/cli/images';
import { centerSquare, datasetFromRgb, splitIndices } from '../../src/train/data';

/** A w x h image: blue inside the centred square, red in the margins the crop must remove. */
function croppable(w: number, h: number): Promise<Buffer> {
  const { x, y, size } = centerSquare(w, h);
  const px = Buffer.alloc(w * h * 3);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const inside = c >= x && c < x + size && r >= y && r < y + size;
      px.set(inside ? [0, 0, 255] : [255, 0, 0], (r * w + c) * 3);
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

describe('image helpers', () => {
  it('centre square, splits and RGB to CHW', () => {
    expect(centerSquare(30, 20)).toEqual({ x: 5, y: 0, size: 20 });
    expect(centerSquare(7, 10)).toEqual({ x: 0, y: 1, size: 7 });
    expect(splitIndices(21, 'eval')).toEqual([9, 19]);
    expect(splitIndices(21, 'train')).toHaveLength(19);
    const d = datasetFromRgb('x', 2, Uint8Array.from([0, 255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 255]));
    expect(Array.from(d.images)).toEqual([-1, -1, 1, -1, 1, -1, -1, -1, -1, -1, -1, 1]);
    expect(() => datasetFromRgb('x', 2, new Uint8Array(5))).toThrow(/x: 5 bytes is not a whole number of 2x2 RGB images/);
  });
});

describe('imagesFromDir', () => {
  it('decodes PNG, JPEG and WebP of any size, crops the centre square and composites alpha on white', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddim-images-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'a.png'), await sharp(await croppable(48, 32)).png().toBuffer());
    writeFileSync(join(dir, 'b.jpg'), await sharp(await croppable(20, 40)).jpeg({ quality: 95 }).toBuffer());
    writeFileSync(join(dir, 'sub', 'c.webp'), await sharp(await croppable(64, 64)).webp({ lossless: true }).toBuffer());
    // Fully transparent: must come out white, as the bundled emoji are.
    writeFileSync(join(dir, 'd.png'), await sharp({ create: { width: 9, height: 9, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer());
    writeFileSync(join(dir, 'notes.txt'), 'not an image');
    expect(listImages(dir).map((f) => f.slice(dir.length + 1))).toEqual(['a.png', 'b.jpg', 'd.png', 'sub/c.webp']);
    const data = await imagesFromDir(dir, 8, 'all');
    expect(data.count).toBe(4);
    expect(data.names).toEqual(['a.png', 'b.jpg', 'd.png', 'sub/c.webp']);
    const per = 3 * 64;
    for (const n of [0, 1, 3]) {
      const img = data.images.subarray(n * per, (n + 1) * per);
      const mean = (c: number): number => img.subarray(c * 64, (c + 1) * 64).reduce((a, b) => a + b, 0) / 64;
      expect(mean(0), data.names[n]).toBeLessThan(-0.9); // no red margin survives the crop
      expect(mean(2), data.names[n]).toBeGreaterThan(0.9);
    }
    expect(Math.min(...data.images.subarray(2 * per, 3 * per))).toBeGreaterThan(0.99);
  });

  it('names the folder or file that cannot be used', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ddim-empty-'));
    await expect(imagesFromDir(empty, 16, 'train')).rejects.toThrow(/no PNG, JPEG or WebP images in this folder/);
    writeFileSync(join(empty, 'broken.png'), 'PNG? no');
    await expect(imagesFromDir(empty, 16, 'all')).rejects.toThrow(/broken\.png: cannot decode as an image/);
    await expect(imagesFromDir(empty, 16, 'eval')).rejects.toThrow(/1 image\(s\) leave none for the eval split/);
    // A header claiming 20000 x 20000 pixels is refused before anything decodes it.
    const huge = mkdtempSync(join(tmpdir(), 'ddim-huge-'));
    const png = Buffer.alloc(64);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    png.writeUInt32BE(20000, 16);
    png.writeUInt32BE(20000, 20);
    writeFileSync(join(huge, 'huge.png'), png);
    await expect(imagesFromDir(huge, 16, 'all')).rejects.toThrow(/huge\.png: the image is 20000 x 20000 pixels, over the limit of 8192 on a side/);
  });
});
