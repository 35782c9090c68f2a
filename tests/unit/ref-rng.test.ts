// The counter-based RNG reference: Philox4x32-10 against the published known-answer vectors
// (Random123 kat_vectors), then the uniform and Gaussian draws built on it.

import { describe, expect, it } from 'vitest';
import { gaussian, philox4x32, uniform } from '../../src/host/rng';

const hex = (words: number[]): string[] => words.map((w) => '0x' + w.toString(16).padStart(8, '0'));

describe('philox4x32', () => {
  const kats: [string, [number, number, number, number], [number, number], number[]][] = [
    ['zero counter and key', [0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [
      'all-ones counter and key',
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ],
    [
      'digits of pi',
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ],
  ];
  for (const [name, counter, key, expected] of kats) {
    it(`known answer: ${name}`, () => {
      expect(hex(philox4x32(counter, key))).toEqual(hex(expected));
    });
  }
});

/** Mean and (biased) variance in float64. */
function moments(x: Float32Array): { mean: number; variance: number } {
  let sum = 0;
  for (const v of x) sum += v;
  const mean = sum / x.length;
  let sumSq = 0;
  for (const v of x) sumSq += (v - mean) ** 2;
  return { mean, variance: sumSq / x.length };
}

describe('draws', () => {
  const N = 100_000;

  it('uniform lies in (0, 1) with mean 1/2 and variance 1/12', () => {
    const u = uniform(7, 3, 0, N);
    expect(u.every((x) => x > 0 && x < 1)).toBe(true);
    const { mean, variance } = moments(u);
    // Standard errors at N = 1e5: 9e-4 for the mean, 2.4e-4 for the variance; allow about 5 of them.
    expect(Math.abs(mean - 0.5)).toBeLessThan(5e-3);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(1.5e-3);
  });

  it('uniform lanes are the philox words of block e >> 2, counter (e >> 2, offset, 0, 0)', () => {
    const u = uniform(11, 22, 33, 10);
    const words = philox4x32([2, 33, 0, 0], [11, 22]);
    expect(Array.from(u.subarray(8, 10))).toEqual(words.slice(0, 2).map((w) => ((w >>> 9) + 0.5) / 2 ** 23));
  });

  it('gaussian has mean 0 and variance 1', () => {
    const z = gaussian(1234, 0, 0, N);
    expect(z.every(Number.isFinite)).toBe(true);
    const { mean, variance } = moments(z);
    // Standard errors at N = 1e5: 3.2e-3 for the mean, 4.5e-3 for the variance.
    expect(Math.abs(mean)).toBeLessThan(0.016);
    expect(Math.abs(variance - 1)).toBeLessThan(0.025);
    // Tails: P(|z| > 3) = 0.0027 for a standard normal.
    const tail = z.filter((x) => Math.abs(x) > 3).length / N;
    expect(tail).toBeGreaterThan(0.0017);
    expect(tail).toBeLessThan(0.0037);
  });

  it('is deterministic, prefix-consistent, and distinct across seeds, streams and offsets', () => {
    const z = gaussian(5, 6, 7, 11);
    expect(gaussian(5, 6, 7, 11)).toEqual(z);
    // Element e does not depend on n, including in a partly used last block.
    expect(Array.from(gaussian(5, 6, 7, 6))).toEqual(Array.from(z.subarray(0, 6)));
    for (const other of [gaussian(9, 6, 7, 11), gaussian(5, 9, 7, 11), gaussian(5, 6, 8, 11)]) {
      expect(other.some((x, i) => x !== z[i])).toBe(true);
    }
  });
});
