// Model images (values in [-1, 1]) to 8-bit pixels: the CPU reference of shaders/pixels.wgsl, and the
// one conversion PNG export and previews share.

const f32 = Math.fround;

/** One channel value in [-1, 1] as a byte: clamp, scale to 0..255, round half up (in float32, as the shader). */
export function pixelByte(v: number): number {
  return Math.floor(f32(f32(Math.min(1, Math.max(0, f32(f32(v + 1) * 0.5))) * 255) + 0.5));
}

/** (N, C, S, S) images, C = 3 or 1 (grey), to (N, S, S) RGBA8 pixels, alpha 255. */
export function toRgba8(images: Float32Array, C: number, hw: number): Uint8Array {
  if (C !== 1 && C !== 3) throw new Error(`pixels: images need 1 or 3 channels, got ${C}`);
  const count = images.length / (C * hw);
  if (!Number.isInteger(count)) throw new Error(`pixels: ${images.length} values are not whole images of ${C}x${hw}`);
  const out = new Uint8Array(count * hw * 4);
  for (let n = 0; n < count; n++) {
    for (let p = 0; p < hw; p++) {
      const o = (n * hw + p) * 4;
      for (let c = 0; c < 3; c++) out[o + c] = pixelByte(images[(n * C + (C === 3 ? c : 0)) * hw + p]!);
      out[o + 3] = 255;
    }
  }
  return out;
}
