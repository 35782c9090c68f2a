// The preview kernel (images in [-1, 1] to RGBA8) vs its CPU reference, bit-exact, RGB and grey.
import { describe, expect, it } from 'vitest';
import { toRgba8 } from '../../src/kernels/pixels';
import { toRgba8 as toRgba8Ref, pixelByte } from '../../src/host/pixels';
import { gpuZeros, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();

describe('pixels on WebGPU', () => {
  for (const [N, C, S] of [[3, 3, 7], [1, 1, 16]] as const) {
    it(`(${N}, ${C}, ${S}, ${S}) matches the CPU reference bit for bit`, async () => {
      const x = randomTensor([N, C, S, S], 5, 1.4); // past [-1, 1], so clamping is exercised
      x.data.set([-1, 1, 0, 1 / 255 - 1, 2 / 255 - 1]); // exact byte boundaries and halves
      const out = gpuZeros(gpu.device, [N, S, S], 'pixels');
      const [words] = await run(gpu.device, [toRgba8(gpu.device, { x: toGpu(gpu.device, x, 'x'), out, label: 'pixels' })], [out]);
      const got = new Uint8Array(words!.buffer, words!.byteOffset, words!.byteLength), want = toRgba8Ref(x.data, C, S * S);
      const diff = got.findIndex((v, i) => v !== want[i]);
      expect(diff, `first difference at byte ${diff}: ${got[diff]} vs ${want[diff]} (x = ${x.data[Math.floor(diff / 4)]})`).toBe(-1);
      expect(got.length).toBe(want.length);
    });
  }

  it('writes at an offset, leaving the rest of the buffer alone', async () => {
    const x = randomTensor([2, 3, 8, 8], 9);
    const out = toGpu(gpu.device, { shape: [3 * 128], data: new Float32Array(3 * 128).fill(-7) }, 'film');
    const [words] = await run(gpu.device, [toRgba8(gpu.device, { x: toGpu(gpu.device, x, 'x'), out, offset: 128, label: 'frame 1' })], [out]);
    expect(Array.from(words!.subarray(0, 128)).every((v) => v === -7)).toBe(true);
    expect(new Uint8Array(words!.buffer, words!.byteOffset + 128 * 4, 128 * 4)).toEqual(toRgba8Ref(x.data, 3, 64));
    expect(Array.from(words!.subarray(256)).every((v) => v === -7)).toBe(true);
  });

  it('rounds half up and clamps', () => {
    expect([-2, -1, 0, 1, 3].map(pixelByte)).toEqual([0, 0, 128, 255, 255]);
  });
});
