// The Fréchet distance and its pieces against closed forms.
import { describe, expect, it } from 'vitest';
import { fitGaussian, frechetDistance, nearestNeighbours, pooledFeatures, symmetricEigen } from '../../src/eval/frechet';

function gaussianSamples(n: number, d: number, mean: number[], std: number[], seed: number): Float64Array[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) + 0.5) / 2147483648;
  return Array.from({ length: n }, () => Float64Array.from({ length: d }, (_, j) => {
    const z = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
    return mean[j]! + std[j]! * z;
  }));
}

describe('Fréchet distance', () => {
  it('finds the eigenvalues of a symmetric matrix', () => {
    const { values } = symmetricEigen(Float64Array.of(2, 1, 0, 1, 2, 0, 0, 0, 5), 3);
    expect([...values].sort((a, b) => a - b).map((v) => +v.toFixed(12))).toEqual([1, 3, 5]);
  });

  it('is 0 for a set against itself and matches the closed form for diagonal Gaussians', () => {
    const a = fitGaussian(gaussianSamples(4000, 3, [0, 1, 2], [1, 2, 0.5], 7));
    expect(frechetDistance(a, a)).toBeLessThan(1e-8);
    // Exact fits: FD = |mu1 - mu2|^2 + sum (sqrt(v1) - sqrt(v2))^2 for diagonal covariances.
    const g = (mean: number[], v: number[]) => ({ mean: Float64Array.from(mean), cov: Float64Array.from([v[0]!, 0, 0, v[1]!]), d: 2 });
    expect(frechetDistance(g([0, 0], [1, 4]), g([1, 2], [4, 1]))).toBeCloseTo(5 + 1 + 1, 10);
  });

  it('pools images to 8x8 features and finds nearest neighbours', () => {
    const img = new Float32Array(2 * 16 * 16).fill(0.5);
    img.fill(-0.5, 256);
    const f = pooledFeatures(img, 1, 16);
    expect(f.length).toBe(2);
    expect(f[0]!.every((v) => Math.abs(v - 0.5) < 1e-12)).toBe(true);
    const nn = nearestNeighbours(img.subarray(256), img, 256);
    expect(nn).toEqual([{ index: 1, rms: 0 }]);
  });
});
