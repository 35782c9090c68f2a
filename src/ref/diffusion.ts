// CPU reference of shaders/diffusion.wgsl: one reverse step from coefficients (src/diffusion/samplers.ts).
import type { StepCoefficients } from '../diffusion/samplers';

export function denoiseStep(
  xt: Float32Array, eps: Float32Array, noise: Float32Array | null, k: StepCoefficients,
): { xNext: Float32Array; x0: Float32Array } {
  const xNext = new Float32Array(xt.length);
  const x0 = new Float32Array(xt.length);
  for (let i = 0; i < xt.length; i++) {
    let p = k.k0 * xt[i]! - k.k1 * eps[i]!;
    if (k.clip) p = Math.min(1, Math.max(-1, p));
    const e = k.useClippedEps ? (xt[i]! - k.sqrtAt * p) / k.sqrt1mAt : eps[i]!;
    x0[i] = p;
    xNext[i] = k.a * p + k.b * xt[i]! + k.c * (noise ? noise[i]! : 0) + k.d * e;
  }
  return { xNext, x0 };
}
