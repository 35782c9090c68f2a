// A set's measures besides its FD (src/eval/sets.ts): roughness per image and per set, spread, and
// the noise test of `ddim eval` (tools/eval_torch.py's: roughness above the 99.9th percentile of real
// images, torch.quantile's linear interpolation), on images whose numbers are known by hand.
import { describe, expect, it } from 'vitest';
import { imageRoughness, noiseLimit, noiseShare, roughness, spread } from '../../src/eval/sets';

const S = 4, C = 1, PER = C * S * S;

/** Images of a checkerboard of amplitude a: every neighbouring pair differs by 2a, so roughness 2a. */
function checkerboards(amplitudes: readonly number[]): Float32Array {
  const out = new Float32Array(amplitudes.length * PER);
  amplitudes.forEach((a, i) => {
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) out[i * PER + y * S + x] = (x + y) % 2 ? -a : a;
  });
  return out;
}

describe('set measures', () => {
  it('measure roughness per image and per set, clamped to [-1, 1], and spread across the set', () => {
    const r = imageRoughness(checkerboards([0, 0.25, 0.5, 2]), C, S);
    expect(Array.from(r)).toEqual([0, 0.5, 1, 2]); // amplitude 2 is clamped to 1
    expect(roughness(checkerboards([0, 0.25, 0.5, 2]), C, S)).toBeCloseTo(0.875, 12);
    expect(spread(checkerboards([0.5, 0.5]), PER)).toBe(0);
    expect(spread(checkerboards([0.5, -0.5]), PER)).toBeCloseTo(0.5, 12);
  });

  it('call a sample noise above the 99.9th percentile of the real images\' roughness', () => {
    // 1001 real images of roughness i / 1000 (f32 amplitudes): the quantile sits at order statistic 999.
    const real = checkerboards(Array.from({ length: 1001 }, (_, i) => i / 2000));
    expect(noiseLimit(real, C, S)).toBeCloseTo(0.999, 6);
    // 101 images: position 0.999 * 100 = 99.9, nine tenths of the way from order statistic 99 to 100.
    expect(noiseLimit(checkerboards(Array.from({ length: 101 }, (_, i) => i / 200)), C, S)).toBeCloseTo(0.999, 6);
    const limit = noiseLimit(real, C, S);
    expect(noiseShare(checkerboards([0.49925, 0.5, 0.4, 0.75]), C, S, limit)).toBe(0.5);
    expect(noiseShare(checkerboards([0.1, 0.2]), C, S, limit)).toBe(0);
  });
});
