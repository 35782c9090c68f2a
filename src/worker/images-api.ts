// The user's training images (ImagesApi): decoded and stored in one IndexedDB transaction per
// import, listed with thumbnails.
import { STORED_SIZE, addImages, listImages, removeImage, downsampleRgb, type StoredImage } from '../store/images';
import { decodeImageFile } from '../train/decode-browser';
import type { ImagesApi } from './api';

const THUMB = 32;

export function imagesApi(): ImagesApi {
  return {
    async addImages(files) {
      const errors: string[] = [];
      const stored: StoredImage[] = [];
      for (const f of files) {
        if (!/\.(png|jpe?g|webp)$/i.test(f.name) && !/^image\/(png|jpeg|webp)$/.test(f.type)) {
          errors.push(`${f.name}: not a PNG, JPEG or WebP file`);
          continue;
        }
        try {
          stored.push({ id: `img-${Date.now().toString(36)}-${stored.length}-${Math.random().toString(36).slice(2, 6)}`, name: f.name, rgb: await decodeImageFile(f, STORED_SIZE), added: Date.now() });
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      await addImages(stored);
      return { added: stored.length, errors };
    },

    async listImages() {
      return (await listImages()).map((img) => {
        const rgb = downsampleRgb(img.rgb, THUMB);
        const rgba = new Uint8Array(THUMB * THUMB * 4);
        for (let p = 0; p < THUMB * THUMB; p++) rgba.set([rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!, 255], p * 4);
        return { id: img.id, name: img.name, thumbnail: { count: 1, size: THUMB, rgba } };
      });
    },

    removeImage: (id) => removeImage(id),
  };
}
