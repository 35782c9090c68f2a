// The bundled emoji data: counts, the held-out split, value range, white background.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadEmoji } from '../../src/train/emoji';

const load = async (file: string) => new Uint8Array(readFileSync(new URL(`../../public/data/${file}`, import.meta.url)));

describe('bundled emoji dataset', () => {
  it('holds 3,786 images at 16 and 32 px with every 10th held out', async () => {
    for (const size of [16, 32]) {
      const all = await loadEmoji(size, 'all', load);
      const train = await loadEmoji(size, 'train', load);
      const evalSet = await loadEmoji(size, 'eval', load);
      expect(all.count).toBe(3786);
      expect(evalSet.count).toBe(378);
      expect(train.count + evalSet.count).toBe(3786);
      expect(all.images.every((v) => v >= -1 && v <= 1)).toBe(true);
      // Composited on white: nearly every image's top-left pixel is pure white (keycaps fill their cell).
      const per = 3 * size * size;
      let white = 0;
      for (let n = 0; n < all.count; n++) if (all.images[n * per] === 1) white++;
      expect(white / all.count).toBeGreaterThan(0.9);
      expect(evalSet.names[0]).toBe(all.names[9]);
    }
  });

  it('rejects a size that was not bundled', async () => {
    await expect(loadEmoji(64, 'all', load)).rejects.toThrow(/no 64 px images \(bundled sizes: 16, 32\)/);
  });
});
