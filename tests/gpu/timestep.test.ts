// Timestep embedding vs the PyTorch golden and vs Math.sin/Math.cos of the same float32 arguments
// for every t in 0..999: the kernel's own range reduction must hold where WGSL's sin/cos are unspecified.
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import { fusesTimeEmbeddingMlp, timeEmbeddingMlp, timestepEmbedding } from '../../src/kernels/timestep';
import { linearForward } from '../../src/kernels/linear';
import { timestepEmbedding as timestepEmbeddingRef } from '../../src/ref/timestep';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { FWD, gpuZeros, packOnGpu, randomTensor, run, toGpu, useGpu } from './harness';

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

describe('the time-embedding MLP in one dispatch (embed_mlp)', () => {
  // Against the embedding and two linear.wgsl forwards (the unfused path): the same bits, at the
  // bundled model's widths, an odd embedding width, and the largest embed_mlp holds.
  for (const [dim, hid, B] of [[32, 128, 3], [33, 132, 2], [256, 1024, 2]] as const) {
    it(`dim ${dim} -> ${hid}, batch ${B}: the same bits as the three dispatches it replaces`, async () => {
      const d = gpu.device;
      const t = toGpu(d, { shape: [B], data: Float32Array.from({ length: B }, (_, i) => 999 - 431 * i) }, 't');
      const [w0, b0, w1, b1] = packOnGpu(d, [randomTensor([hid, dim], 1, 0.2), randomTensor([hid], 2), randomTensor([hid, hid], 3, 0.1), randomTensor([hid], 4)], 'params');
      const out = () => [gpuZeros(d, [B, dim], 'y'), gpuZeros(d, [B, hid], 'h'), gpuZeros(d, [B, hid], 'temb')] as const;
      const [y, h, temb] = out(), [y2, h2, temb2] = out();
      const fused = await run(d, [timeEmbeddingMlp(d, { t, y, w0: w0!, b0: b0!, w1: w1!, b1: b1!, h, temb, label: 'temb' })], [y, h, temb]);
      const apart = await run(d, [
        timestepEmbedding(d, { t, y: y2, label: 'sinusoid' }),
        linearForward(d, { x: y2, w: w0!, b: b0!, y: h2, siluInput: false, label: 'dense.0' }),
        linearForward(d, { x: h2, w: w1!, b: b1!, y: temb2, siluInput: true, label: 'dense.1' }),
      ], [y2, h2, temb2]);
      expect(fused).toEqual(apart);
      expect(fusesTimeEmbeddingMlp(dim, hid)).toBe(true);
    });
  }

  it('refuses widths beyond its workgroup arrays (the UNet runs those unfused)', () => {
    expect(fusesTimeEmbeddingMlp(512, 2048)).toBe(false);
    const d = gpu.device;
    const [w0, b0, w1, b1] = packOnGpu(d, [randomTensor([2048, 512], 1), randomTensor([2048], 2), randomTensor([2048, 2048], 3), randomTensor([2048], 4)], 'params');
    expect(() => timeEmbeddingMlp(d, { t: gpuZeros(d, [1]), y: gpuZeros(d, [1, 512]), w0: w0!, b0: b0!, w1: w1!, b1: b1!, h: gpuZeros(d, [1, 2048]), temb: gpuZeros(d, [1, 2048]), label: 'temb' }))
      .toThrow(/temb: an MLP of width 512 -> 2048 exceeds embed_mlp's 256 -> 1024/);
  });
});
