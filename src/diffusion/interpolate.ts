// Interpolation between two starting noises as in the DDIM reference (`slerp`): spherical, so every
// frame keeps the norm a Gaussian sample of this size should have, unlike a straight line.
//   theta = acos(<z1, z2> / (|z1| |z2|)),  z(a) = sin((1-a) theta)/sin(theta) z1 + sin(a theta)/sin(theta) z2

export function slerp(z1: Float32Array, z2: Float32Array, alpha: number): Float32Array {
  if (z1.length !== z2.length) throw new Error(`slerp: noises of ${z1.length} and ${z2.length} values`);
  let dot = 0, n1 = 0, n2 = 0;
  for (let i = 0; i < z1.length; i++) {
    dot += z1[i]! * z2[i]!;
    n1 += z1[i]! ** 2;
    n2 += z2[i]! ** 2;
  }
  const theta = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(n1 * n2))));
  if (theta < 1e-7) return Float32Array.from(z1, (v, i) => (1 - alpha) * v + alpha * z2[i]!); // (nearly) parallel
  const w1 = Math.sin((1 - alpha) * theta) / Math.sin(theta);
  const w2 = Math.sin(alpha * theta) / Math.sin(theta);
  return Float32Array.from(z1, (v, i) => w1 * v + w2 * z2[i]!);
}

/** `frames` noises from z1 to z2 (both ends included), alpha evenly spaced in [0, 1]. */
export function slerpFrames(z1: Float32Array, z2: Float32Array, frames: number): Float32Array[] {
  if (!Number.isInteger(frames) || frames < 2) throw new Error(`slerp: need at least 2 frames, got ${frames}`);
  return Array.from({ length: frames }, (_, i) => slerp(z1, z2, i / (frames - 1)));
}
