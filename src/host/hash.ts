// A fingerprint of bytes (FNV-1a, 32 bits): to tell whether two sets of values may be the same
// (the user's images between two questions, an image already stored) without keeping both.

export function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** The fingerprint of float values' bits (a data set's images). */
export function valuesKey(values: Float32Array): string {
  return fnv1a(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}
