// Image dimensions from headers (PNG, JPEG, WebP), so huge images are refused before decoding.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MAX_IMAGE_SIDE, checkImageSize, imageSize } from '../../src/io/image-size';

async function encoded(format: 'png' | 'jpeg' | 'webp', width: number, height: number, options: Record<string, unknown> = {}): Promise<Uint8Array> {
  const img = sharp({ create: { width, height, channels: 3, background: '#336699' } });
  return new Uint8Array(await img[format](options as never).toBuffer());
}

describe('image sizes from headers', () => {
  for (const [format, options] of [['png', {}], ['jpeg', {}], ['jpeg', { progressive: true }], ['webp', {}], ['webp', { lossless: true }]] as const) {
    it(`reads ${format} ${JSON.stringify(options)}`, async () => {
      expect(imageSize(await encoded(format, 37, 21, options))).toEqual({ format, width: 37, height: 21 });
    });
  }

  it('reads a JPEG whose frame header follows a large EXIF segment', async () => {
    const img = await sharp({ create: { width: 50, height: 40, channels: 3, background: '#fff' } })
      .withMetadata({ exif: { IFD0: { ImageDescription: 'x'.repeat(40000) } } }).jpeg().toBuffer();
    expect(imageSize(new Uint8Array(img))).toEqual({ format: 'jpeg', width: 50, height: 40 });
  });

  it('refuses an image past the side limit from its header alone, naming it and the limit', () => {
    // A PNG header claiming 20000 x 20000 pixels, with no pixel data at all.
    const png = new Uint8Array(33);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    new DataView(png.buffer).setUint32(16, 20000);
    new DataView(png.buffer).setUint32(20, 20000);
    expect(() => checkImageSize(png, 'huge.png')).toThrow(new RegExp(`^huge\\.png: the image is 20000 x 20000 pixels, over the limit of ${MAX_IMAGE_SIDE} on a side`));
    expect(imageSize(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });
});
