// Timestep embedding vs the PyTorch golden and vs Math.sin/Math.cos of the same float32 arguments
// for every t in 0..999: the kernel's own range reduction must hold where WGSL's sin/cos are unspecified.
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import { timestepEmbedding } from '../../src/kernels/timestep';
import { timestepEmbedding as timestepEmbeddingRef } from '../../src/ref/timestep';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { FWD, gpuZeros, run, toGpu, useGpu } from './harness';

const gpu = useGpu();

async function gpuEmbedding(t: Float32Array, dim: number): Promise<Float32Array> {
  const d = gpu.device;
  const y = gpuZeros(d, [t.length, dim], 'y');
  const [got] = await run(d, [timestepEmbedding(d, { t: toGpu(d, { shape: [t.length], data: t }, 't'), y, label: 'temb' })], [y]);
  return got!;
}

// A few float32 ulps of values up to 1: the reduction and polynomials are accurate to ~1 ulp.
const ULPS = 3e-7;

describe('timestep embedding on WebGPU', () => {
  for (const dim of [32, 33]) {
    it(`dim${dim} matches the PyTorch golden (t up to 999)`, async () => {
      const ops = loadReference('ops.safetensors');
      const got = await gpuEmbedding(getTensor(ops, 'timestep_embedding/t').data, dim);
      expectClose(got, getTensor(ops, `timestep_embedding/dim${dim}`).data, FWD.atol, FWD.rtol, `dim${dim}`);
    });
  }

  const t = Float32Array.from({ length: 1000 }, (_, i) => i);
  for (const dim of [32, 33, 128]) {
    it(`dim ${dim}, t = 0..999 matches Math.sin/Math.cos of the float32 arguments`, async () => {
      const got = await gpuEmbedding(t, dim);
      const ref = timestepEmbeddingRef(t, dim).data;
      expectClose(got, ref, ULPS, 0, `dim${dim}`);
    });
  }

  it('rejects timesteps that are not a vector', () => {
    const d = gpu.device;
    expect(() => timestepEmbedding(d, { t: gpuZeros(d, [2, 1], 't'), y: gpuZeros(d, [2, 32]), label: 'temb' }))
      .toThrow(/temb: timesteps "t" have shape \[2,1\], expected \(B\)/);
  });
});
