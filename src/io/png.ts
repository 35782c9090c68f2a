// PNG encoding of 8-bit RGBA images (filter 0 per row, zlib via CompressionStream), in the browser
// and in Node alike, with optional tEXt chunks (the settings an image was made with, as AUTOMATIC1111
// stores its "parameters"), and reading those chunks back from any PNG.

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** tEXt keywords: 1-79 Latin-1 characters (PNG spec 11.3.4.3); the text here is ASCII. */
const KEYWORD = /^[\x20-\x7e]{1,79}$/;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function zlibDeflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function textChunk(keyword: string, text: string): Uint8Array {
  if (!KEYWORD.test(keyword)) throw new Error(`png: "${keyword}" is not a valid tEXt keyword`);
  // Non-ASCII text is escaped so the chunk stays the Latin-1 tEXt requires (JSON reads it back).
  const ascii = text.replace(/[^\x20-\x7e\n]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return chunk('tEXt', Uint8Array.from(`${keyword}\0${ascii}`, (ch) => ch.charCodeAt(0)));
}

/** An RGBA PNG; `text` entries become tEXt chunks before the image data. */
export async function encodePng(width: number, height: number, rgba: Uint8Array, text: Record<string, string> = {}): Promise<Uint8Array> {
  if (rgba.length !== width * height * 4) throw new Error(`png: ${rgba.length} bytes for a ${width}x${height} RGBA image`);
  const raw = new Uint8Array(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, deflate, no interlace
  const parts = [
    new Uint8Array(SIGNATURE),
    chunk('IHDR', header),
    ...Object.entries(text).map(([k, v]) => textChunk(k, v)),
    chunk('IDAT', await zlibDeflate(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const LATIN1 = new TextDecoder('latin1');

/** The tEXt chunks of a PNG (keyword -> text). Errors name the file; chunks with a bad CRC are refused. */
export function readPngText(bytes: Uint8Array, source: string): Map<string, string> {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) throw new Error(`${source}: not a PNG file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, string>();
  for (let o = 8; ;) {
    if (o + 12 > bytes.length) throw new Error(`${source}: the PNG ends at byte ${bytes.length}, before its IEND chunk (truncated)`);
    const length = view.getUint32(o);
    const type = LATIN1.decode(bytes.subarray(o + 4, o + 8));
    if (o + 12 + length > bytes.length) throw new Error(`${source}: the ${type} chunk at byte ${o} runs past the end of the file`);
    if (type === 'tEXt') {
      if (crc32(bytes.subarray(o + 4, o + 8 + length)) !== view.getUint32(o + 8 + length)) throw new Error(`${source}: the tEXt chunk at byte ${o} is corrupt (CRC mismatch)`);
      const data = bytes.subarray(o + 8, o + 8 + length);
      const nul = data.indexOf(0);
      if (nul > 0) out.set(LATIN1.decode(data.subarray(0, nul)), LATIN1.decode(data.subarray(nul + 1)));
    }
    if (type === 'IEND') return out;
    o += 12 + length;
  }
}
