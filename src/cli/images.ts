// A folder of the user's PNG/JPEG/WebP images as a training set (Node): each file is decoded once by
// sharp (libvips), EXIF-rotated, composited on white, centre-cropped to a square and resized to the
// model resolution; the whole set then lives in memory, so no epoch decodes again. sharp is loaded on
// first use, so the commands that never read image files run where it is not installed (a bundled CLI
// carried to a GPU machine).
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { IMAGE_HEADER_BYTES, checkImageSize } from '../io/image-size';
import { datasetFromRgb, splitIndices, type ImageDataset } from '../train/data';

const IMAGE_FILE = /\.(png|jpe?g|webp)$/i;

/** Image files under `dir` (recursively), in a stable order. */
export function listImages(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (IMAGE_FILE.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

async function decode(path: string, size: number): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  const header = Buffer.alloc(IMAGE_HEADER_BYTES);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    checkImageSize(header.subarray(0, readSync(fd, header, 0, header.length, 0)), path);
  } finally {
    closeSync(fd);
  }
  try {
    // fit 'cover' with a centre position is the centre square crop followed by the resize.
    return await sharp(path).rotate().flatten({ background: '#ffffff' }).resize(size, size, { fit: 'cover', position: 'centre' }).removeAlpha().raw().toBuffer();
  } catch (e) {
    throw new Error(`${path}: cannot decode as an image (${(e as Error).message})`);
  }
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Image files decoded, cropped and resized to `size` px: (N, 3, size, size) in [-1, 1]. */
export async function imagesFromFiles(files: readonly string[], size: number, id: string): Promise<ImageDataset> {
  const rgb = new Uint8Array(files.length * size * size * 3);
  const PARALLEL = 8;
  for (let i = 0; i < files.length; i += PARALLEL) {
    const chunk = await Promise.all(files.slice(i, i + PARALLEL).map((f) => decode(f, size)));
    chunk.forEach((buf, j) => rgb.set(buf, (i + j) * size * size * 3));
  }
  return datasetFromRgb(id, size, rgb);
}

/** The images of `dir` at `size` px; every 10th file (in sorted order) is the held-out 'eval' split. */
export async function imagesFromDir(dir: string, size: number, split: 'train' | 'eval' | 'all'): Promise<ImageDataset & { names: string[] }> {
  const files = listImages(dir);
  if (files.length === 0) throw new Error(`${dir}: no PNG, JPEG or WebP images in this folder`);
  const keep = splitIndices(files.length, split).map((i) => files[i]!);
  if (keep.length === 0) throw new Error(`${dir}: ${files.length} image(s) leave none for the ${split} split (every 10th image is held out)`);
  return { ...(await imagesFromFiles(keep, size, `${dir}/${split}`)), names: keep.map((f) => relative(dir, f)) };
}
