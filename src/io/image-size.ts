// The pixel dimensions of a PNG, JPEG or WebP file read from its header, so that a huge image is
// refused before anything decodes it (a 20000 x 20000 PNG is 1.6 GB as RGBA). Reads at most the
// bytes given; returns undefined for other formats or a header it cannot find.

export interface ImageSize {
  format: 'png' | 'jpeg' | 'webp';
  width: number;
  height: number;
}

/** Largest image (in pixels, either side) the app and the CLI decode: 8192 x 8192 is 256 MiB as RGBA. */
export const MAX_IMAGE_SIDE = 8192;

/** How many leading bytes imageSize may need (JPEG's size can follow large metadata segments). */
export const IMAGE_HEADER_BYTES = 256 * 1024;

export function imageSize(b: Uint8Array): ImageSize | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ascii = (at: number, n: number): string => String.fromCharCode(...b.subarray(at, at + n));
  // PNG: signature, then the IHDR chunk: width and height as big-endian u32 at 16 and 20.
  if (b.length >= 24 && b[0] === 0x89 && ascii(1, 3) === 'PNG' && ascii(12, 4) === 'IHDR') {
    return { format: 'png', width: v.getUint32(16), height: v.getUint32(20) };
  }
  // JPEG: segments from SOI; a start-of-frame (SOF0..SOF15 but DHT, JPG, DAC) holds height, width.
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let at = 2;
    while (at + 9 <= b.length) {
      if (b[at] !== 0xff) return undefined;
      const marker = b[at + 1]!;
      if (marker === 0xff) { at++; continue; } // fill byte
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; } // no length
      const length = v.getUint16(at + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { format: 'jpeg', height: v.getUint16(at + 5), width: v.getUint16(at + 7) };
      }
      if (length < 2) return undefined;
      at += 2 + length;
    }
    return undefined;
  }
  // WebP: RIFF....WEBP then a VP8 (lossy), VP8L (lossless) or VP8X (extended) chunk.
  if (b.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const chunk = ascii(12, 4);
    if (chunk === 'VP8 ') return { format: 'webp', width: v.getUint16(26, true) & 0x3fff, height: v.getUint16(28, true) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = v.getUint32(21, true);
      return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') {
      const w = b[24]! | (b[25]! << 8) | (b[26]! << 16);
      const h = b[27]! | (b[28]! << 8) | (b[29]! << 16);
      return { format: 'webp', width: w + 1, height: h + 1 };
    }
  }
  return undefined;
}

/** Throws `${name}: the image is W x H pixels, over the limit of 8192 on a side` for a too-large image. */
export function checkImageSize(header: Uint8Array, name: string): void {
  const s = imageSize(header);
  if (s && (s.width > MAX_IMAGE_SIDE || s.height > MAX_IMAGE_SIDE)) {
    throw new Error(`${name}: the image is ${s.width} x ${s.height} pixels, over the limit of ${MAX_IMAGE_SIDE} on a side; scale it down first`);
  }
  if (s && (s.width === 0 || s.height === 0)) throw new Error(`${name}: the image header says ${s.width} x ${s.height} pixels`);
}
