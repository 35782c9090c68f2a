import { describe, expect, it } from 'vitest';
import { slerp, slerpFrames } from '../../src/diffusion/interpolate';

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('slerp', () => {
  it('keeps the ends and, for orthogonal equal-norm noises, the norm along the arc', () => {
    const a = Float32Array.of(3, 0, 0), b = Float32Array.of(0, 3, 0);
    const frames = slerpFrames(a, b, 11);
    expect(Array.from(frames[0]!)).toEqual([3, 0, 0]);
    expect(frames[10]![1]).toBeCloseTo(3, 6);
    for (const f of frames) expect(norm(f)).toBeCloseTo(3, 6);
    expect(frames[5]![0]).toBeCloseTo(3 * Math.SQRT1_2, 6);
  });

  it('falls back to a straight line for parallel noises and rejects bad input', () => {
    expect(Array.from(slerp(Float32Array.of(1, 1), Float32Array.of(2, 2), 0.5))).toEqual([1.5, 1.5]);
    expect(() => slerp(Float32Array.of(1), Float32Array.of(1, 2), 0.5)).toThrow(/noises of 1 and 2 values/);
    expect(() => slerpFrames(Float32Array.of(1), Float32Array.of(2), 1)).toThrow(/at least 2 frames/);
  });
});
