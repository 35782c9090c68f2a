// Decoding the user's image files in the browser (page or worker): createImageBitmap decodes PNG,
// JPEG and WebP; the centre square is drawn onto a white OffscreenCanvas at the target size.
import { IMAGE_HEADER_BYTES, checkImageSize } from '../io/image-size';
import { centerSquare } from './data';

/** `size` x `size` RGB bytes (row-major) of an image file, alpha composited on white. */
export async function decodeImageFile(file: Blob & { name?: string }, size: number): Promise<Uint8Array> {
  // The size from the header first: a huge image is refused before the browser decodes it.
  checkImageSize(new Uint8Array(await file.slice(0, IMAGE_HEADER_BYTES).arrayBuffer()), file.name ?? 'image');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (e) {
    throw new Error(`${file.name ?? 'image'}: cannot decode as an image (${(e as Error).message || 'unsupported or broken file'})`);
  }
  const { x, y, size: side } = centerSquare(bitmap.width, bitmap.height);
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser has no 2D OffscreenCanvas to resize images with');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, size, size);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, x, y, side, side, 0, 0, size, size);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const rgb = new Uint8Array(size * size * 3);
  for (let p = 0; p < size * size; p++) rgb.set(rgba.subarray(p * 4, p * 4 + 3), p * 3);
  return rgb;
}
