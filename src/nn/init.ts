// PyTorch's default initialisation for the reference UNet's layers, from a seeded generator, so a
// model trained from scratch here starts where `Model(config)` would start (in distribution):
//   Conv2d / Linear weight and bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in))  (kaiming_uniform, a = sqrt(5))
//   GroupNorm: weight 1, bias 0.
import type { ParamLayout } from './params';

/** mulberry32: a small, well-mixed 32-bit generator; initialisation needs no cryptographic quality. */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const isNorm = (name: string) => /\.norm\d?\.|norm_out\./.test(name);

/** The flat parameter image of a freshly initialised model. */
export function initParameters(layout: ParamLayout, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const flat = new Float32Array(layout.totalFloats);
  const fanIn = new Map<string, number>();
  for (const s of layout.specs) {
    if (s.name.endsWith('.weight') && s.shape.length >= 2) fanIn.set(s.name.slice(0, -7), s.shape.slice(1).reduce((a, b) => a * b, 1));
  }
  for (const s of layout.specs) {
    const off = layout.offsets.get(s.name)!;
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (isNorm(s.name)) {
      flat.fill(s.name.endsWith('.weight') ? 1 : 0, off, off + n);
      continue;
    }
    const module = s.name.slice(0, s.name.lastIndexOf('.'));
    const bound = 1 / Math.sqrt(fanIn.get(module) ?? 1);
    for (let i = 0; i < n; i++) flat[off + i] = (rand() * 2 - 1) * bound;
  }
  return flat;
}
