// The precision tiers: what each asks of the adapter and how a missing feature is reported
// (gpu/tier.ts), and the CPU's f16 rounding the reduced tiers are checked against (ref/f16.ts).
import { describe, expect, it } from 'vitest';
import { chooseTier, f16MatrixConfigs, parsePrecision, type AdapterOffer } from '../../src/gpu/tier';
import { f16Round } from '../../src/ref/f16';

const swiftshader: AdapterOffer = { features: new Set(['subgroups', 'timestamp-query']), subgroupMatrixConfigs: [], name: 'SwiftShader' };
const h200: AdapterOffer = {
  features: new Set(['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix']),
  subgroupMatrixConfigs: [
    { componentType: 'f16', resultComponentType: 'f16', M: 16, N: 16, K: 16 },
    { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 },
    { componentType: 'i8', resultComponentType: 'i32', M: 16, N: 16, K: 32 },
  ],
  name: 'NVIDIA H200',
  subgroupMinSize: 32,
  subgroupMaxSize: 32,
};

describe('precision tiers', () => {
  it('auto is fp32 everywhere; each tier requests exactly the features it needs', () => {
    expect(chooseTier('auto', h200)).toEqual({ tier: 'fp32', features: [], matrixConfigs: [] });
    expect(chooseTier('matrix-emulated', swiftshader)).toEqual({ tier: 'matrix-emulated', features: [], matrixConfigs: [] });
    expect(chooseTier('f16', h200).features).toEqual(['shader-f16']);
  });

  it('takes the matrix tier where the adapter has an f16 -> f32 16x16x16 configuration and subgroups of 32', () => {
    const matrix = chooseTier('matrix', h200);
    expect(matrix.features).toEqual(['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix']);
    expect(matrix.matrixConfigs).toEqual(f16MatrixConfigs(h200));
    expect(f16MatrixConfigs(h200)).toEqual([{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }]);
    expect(() => chooseTier('matrix', { ...h200, subgroupMinSize: 16, subgroupMaxSize: 64 })).toThrow(/needs subgroups of exactly 32 invocations .*NVIDIA H200 has 16 to 64/);
  });

  it('refuses a tier the adapter cannot run, naming the missing features and the way out', () => {
    expect(() => chooseTier('f16', swiftshader)).toThrow(/precision f16 needs the adapter feature shader-f16, which SwiftShader does not offer .*--gpu-features unsafe.*matrix-emulated/);
    expect(() => chooseTier('matrix', swiftshader)).toThrow(/features shader-f16, chromium-experimental-subgroup-matrix, which SwiftShader/);
    const noF32Result = { ...h200, subgroupMatrixConfigs: h200.subgroupMatrixConfigs.filter((c) => c.resultComponentType !== 'f32') };
    expect(() => chooseTier('matrix', noF32Result)).toThrow(/needs an f16 x f16 -> f32 subgroup-matrix configuration of 16x16x16 .*; NVIDIA H200 offers f16->f16 16x16x16, i8->i32 16x16x32/);
  });

  it('reads a typed precision or names the choices', () => {
    expect(parsePrecision('matrix-emulated', 'x')).toBe('matrix-emulated');
    expect(parsePrecision('auto', 'x')).toBe('auto');
    expect(() => parsePrecision('bf16', 'ddim forward: --precision')).toThrow('ddim forward: --precision: unknown precision "bf16" (choose auto, fp32, f16, matrix, matrix-emulated)');
  });
});

describe('f16 rounding on the CPU', () => {
  it('rounds to nearest, ties to even, through subnormals, and overflows to infinity from 65520', () => {
    const cases: [number, number][] = [
      [1, 1], [1 + 2 ** -11, 1], [1 + 3 * 2 ** -11, 1 + 2 ** -9], [1 + 2 ** -11 + 2 ** -20, 1 + 2 ** -10],
      [-0.1, -0.0999755859375], [65504, 65504], [65519.99, 65504], [65520, Infinity], [-1e6, -Infinity],
      [2 ** -14, 2 ** -14], [2 ** -25, 0], [3 * 2 ** -25, 2 ** -23], [5e-8, 2 ** -24], [1e-8, 0], [2 ** -24 * 1023, 2 ** -24 * 1023],
      [Math.fround(2 - 2 ** -23), 2], [0, 0],
    ];
    for (const [x, want] of cases) expect(f16Round(x), String(x)).toBe(want);
    expect(f16Round(NaN)).toBeNaN();
  });
});
