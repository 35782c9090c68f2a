// The user's training images in IndexedDB: each decoded once on import (centre square, 64 px RGB on
// white) with its file name; a dataset at 16/32/64 px is then an exact box downsample, so no epoch
// and no reload ever decodes a file again.
import { clear, createStore, del, entries, promisifyRequest, type UseStore } from 'idb-keyval';
import { datasetFromRgb, type ImageDataset } from '../train/data';
import { storageError } from './models';

export const STORED_SIZE = 64;

export interface StoredImage {
  id: string;
  name: string;
  /** STORED_SIZE x STORED_SIZE x 3 bytes, row-major RGB. */
  rgb: Uint8Array;
  added: number;
}

let store: UseStore | undefined;
const db = (): UseStore => (store ??= createStore('ddim-webgpu-images', 'images'));

export async function listImages(): Promise<StoredImage[]> {
  return (await entries<string, StoredImage>(db())).map(([, v]) => v).sort((a, b) => a.added - b.added || (a.id < b.id ? -1 : 1));
}

/** Stores a batch of images in one transaction: all of them or, on any error (the quota), none. */
export async function addImages(images: StoredImage[]): Promise<void> {
  if (images.length === 0) return;
  try {
    await db()('readwrite', (store) => {
      try {
        for (const img of images) store.put(img, img.id);
      } catch (e) {
        store.transaction.abort(); // a put that throws (a value that cannot be stored) undoes the others
        throw e;
      }
      return promisifyRequest(store.transaction);
    });
  } catch (e) {
    const bytes = images.reduce((n, img) => n + img.rgb.byteLength, 0);
    throw storageError(e, `${images.length} image(s) (none was added)`, bytes);
  }
}

export async function removeImage(id: string): Promise<void> {
  await del(id, db());
}

export async function removeAllImages(): Promise<void> {
  await clear(db());
}

/** Box-downsamples 64 px RGB to `size` (16, 32 or 64). */
export function downsampleRgb(rgb: Uint8Array, size: number): Uint8Array {
  const f = STORED_SIZE / size;
  if (!Number.isInteger(f) || f < 1) throw new Error(`your images are stored at ${STORED_SIZE} px; a ${size} px model needs a size that divides ${STORED_SIZE}`);
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += rgb[((y * f + dy) * STORED_SIZE + x * f + dx) * 3 + c]!;
        out[(y * size + x) * 3 + c] = Math.round(s / (f * f));
      }
    }
  }
  return out;
}

/** All stored images as a training set at `size` px. */
export async function userDataset(size: number): Promise<ImageDataset> {
  const images = await listImages();
  if (images.length === 0) throw new Error('no images of yours are stored yet: add PNG, JPEG or WebP files in the Train tab');
  const rgb = new Uint8Array(images.length * size * size * 3);
  images.forEach((img, i) => rgb.set(downsampleRgb(img.rgb, size), i * size * size * 3));
  return datasetFromRgb('user', size, rgb);
}
