// The bundled dataset: Noto Emoji at 16 or 32 px on white (public/data, made by scripts/build-emoji.mjs).
import type { ImageDataset } from './data';

export type EmojiSplit = 'train' | 'eval' | 'all';

/** The image size a bundled dataset's name says (`emoji16` -> 16, `emoji32` -> 32), or undefined for any other name. */
export function bundledEmojiSize(name: string): number | undefined {
  const m = /^emoji(16|32)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

interface EmojiIndex {
  count: number;
  sizes: number[];
  items: { name: string; category: string; split: 'train' | 'eval' }[];
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Loads emoji{size} through `load` (a file of public/data: fetch in the page, fs in Node), keeping
 * `split` (every 10th image is held out for evaluation).
 */
export async function loadEmoji(size: number, split: EmojiSplit, load: (file: string) => Promise<Uint8Array>): Promise<ImageDataset & { names: string[] }> {
  const index = JSON.parse(new TextDecoder().decode(await load('emoji.json'))) as EmojiIndex;
  if (!index.sizes.includes(size)) throw new Error(`emoji: no ${size} px images (bundled sizes: ${index.sizes.join(', ')})`);
  const bytes = await gunzip(await load(`emoji${size}.gz.bin`));
  const per = 3 * size * size;
  if (bytes.length !== index.count * per) throw new Error(`emoji${size}.gz.bin: ${bytes.length} bytes, expected ${index.count} images of ${per}`);
  const keep = index.items.flatMap((it, i) => (split === 'all' || it.split === split ? [i] : []));
  const images = new Float32Array(keep.length * per);
  keep.forEach((i, n) => {
    for (let j = 0; j < per; j++) images[n * per + j] = bytes[i * per + j]! / 127.5 - 1;
  });
  return { id: `emoji${size}/${split}`, count: keep.length, channels: 3, resolution: size, images, names: keep.map((i) => index.items[i]!.name) };
}
