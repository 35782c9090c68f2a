// The user's training images (ImagesApi): decoded and stored in one IndexedDB transaction per
// import, listed with thumbnails.
import { STORED_SIZE, addImages, listImages, removeAllImages, removeImage, downsampleRgb, type StoredImage } from '../store/images';
import { fnv1a } from '../host/hash';
import { IMAGE_HEADER_BYTES, imageSize } from '../io/image-size';
import { decodeImageFile } from '../train/decode-browser';
import type { ImagesApi } from './api';

const THUMB = 32;

export function imagesApi(): ImagesApi {
  return {
    async addImages(files) {
      const errors: string[] = [], notes: string[] = [];
      const stored: StoredImage[] = [];
      // An image already among yours (or earlier in this import) would only weigh twice in training.
      const seen = new Map<string, StoredImage[]>();
      const remember = (img: StoredImage, key = fnv1a(img.rgb)): void => {
        seen.set(key, [...(seen.get(key) ?? []), img]);
      };
      for (const img of await listImages()) remember(img);
      for (const f of files) {
        if (!/\.(png|jpe?g|webp)$/i.test(f.name) && !/^image\/(png|jpeg|webp)$/.test(f.type)) {
          errors.push(`${f.name}: not a PNG, JPEG or WebP file`);
          continue;
        }
        try {
          const img = { id: `img-${Date.now().toString(36)}-${stored.length}-${Math.random().toString(36).slice(2, 6)}`, name: f.name, rgb: await decodeImageFile(f, STORED_SIZE), added: Date.now() };
          const key = fnv1a(img.rgb);
          const twin = seen.get(key)?.find((o) => o.rgb.every((v, i) => v === img.rgb[i]));
          if (twin) {
            errors.push(`${f.name}: the same image as ${twin.name}, ${stored.includes(twin) ? 'earlier in this import' : 'already among yours'}`);
            continue;
          }
          remember(img, key);
          stored.push(img);
          // Only the centre square is kept: say so where that leaves out much of the image.
          const s = imageSize(new Uint8Array(await f.slice(0, IMAGE_HEADER_BYTES).arrayBuffer()));
          const side = s && Math.min(s.width, s.height);
          if (s && side && Math.max(s.width, s.height) >= 1.5 * side) notes.push(`${f.name}: ${s.width} x ${s.height} pixels, cropped to its centre ${side} x ${side} square`);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      await addImages(stored);
      return { added: stored.length, errors, notes };
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
    removeAllImages: () => removeAllImages(),
  };
}
