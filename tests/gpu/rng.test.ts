// Philox4x32-10 on WebGPU vs src/ref/rng.ts: uniform bit for bit, Gaussian within 1e-5 (1 + |ref|),
// per-step state changes as a buffer write, and dropout masks regenerated in backward.
import { describe, expect, it } from 'vitest';
import { createRngState, dropoutBackward, dropoutForward, gaussianFill, setRngState, uniformFill } from '../../src/kernels/rng';
import { gaussian, uniform } from '../../src/host/rng';
import { expectClose } from '../unit/ref-helpers';
import { gpuZeros, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();

const KEYS: [number, number, number][] = [[0, 0, 0], [0xdeadbeef, 7, 123456], [0xffffffff, 0xffffffff, 0xffffffff]];

describe('rng on WebGPU', () => {
  for (const [seed, stream, offset] of KEYS) {
    it(`seed ${seed}, stream ${stream}, offset ${offset}: uniform is bit-exact, gaussian within 1e-5 (1 + |ref|)`, async () => {
      const d = gpu.device;
      const state = createRngState(d, 'rng.state');
      setRngState(d, state, seed, offset);
      const n = 100_003; // not a multiple of 4: the last block drops lanes
      const u = gpuZeros(d, [n], 'u'), z = gpuZeros(d, [n], 'z');
      const [gu, gz] = await run(d, [
        uniformFill(d, { out: u, state, stream, label: 'uniform' }),
        gaussianFill(d, { out: z, state, stream, label: 'gaussian' }),
      ], [u, z]);
      expectClose(gu!, uniform(seed, stream, offset, n), 0, 0, 'uniform');
      expectClose(gz!, gaussian(seed, stream, offset, n), 1e-5, 1e-5, 'gaussian');
    });
  }

  it('a new (seed, offset) is a state write: the same dispatch replays the next draw', async () => {
    const d = gpu.device;
    const state = createRngState(d, 'rng.state');
    const z = gpuZeros(d, [4099, 3], 'z');
    const fill = gaussianFill(d, { out: z, state, stream: 5, label: 'gaussian' });
    for (const [seed, offset] of [[42, 0], [42, 1], [43, 1]] as const) {
      setRngState(d, state, seed, offset);
      const [got] = await run(d, [fill], [z]);
      expectClose(got!, gaussian(seed, 5, offset, 4099 * 3), 1e-5, 1e-5, `seed ${seed} offset ${offset}`);
    }
  });

  it('dropout keeps u >= p scaled by 1 / (1 - p), and backward regenerates the mask', async () => {
    const d = gpu.device;
    const shape = [3, 7, 13, 11];
    const n = 3 * 7 * 13 * 11;
    const [seed, stream, offset, p] = [9, 3, 17, 0.3];
    const state = createRngState(d, 'rng.state');
    setRngState(d, state, seed, offset);
    const x = randomTensor(shape, 1), dy = randomTensor(shape, 2), dx0 = randomTensor(shape, 3);
    const y = gpuZeros(d, shape, 'y'), dx = toGpu(d, dx0, 'dx'), dxAssign = gpuZeros(d, shape, 'dx');
    const args = { state, stream, p, label: 'dropout' };
    const [gy, gdx, gdxAssign] = await run(d, [
      dropoutForward(d, { ...args, x: toGpu(d, x, 'x'), y }),
      dropoutBackward(d, { ...args, dy: toGpu(d, dy, 'dy'), dx, accumulate: true }),
      dropoutBackward(d, { ...args, dy: toGpu(d, dy, 'dy'), dx: dxAssign, accumulate: false }),
    ], [y, dx, dxAssign]);
    const u = uniform(seed, stream, offset, n);
    const scale = Math.fround(1 / (1 - p));
    const keep = (i: number) => u[i]! >= Math.fround(p);
    const mask = (t: Float32Array) => t.map((v, i) => (keep(i) ? v * scale : 0));
    expectClose(gy!, mask(x.data), 0, 0, 'y');
    expectClose(gdxAssign!, mask(dy.data), 0, 0, 'dx =');
    expectClose(gdx!, mask(dy.data).map((v, i) => v + dx0.data[i]!), 0, 0, 'dx +=');
    const kept = u.filter((v) => v >= Math.fround(p)).length / n;
    expect(Math.abs(kept - (1 - p))).toBeLessThan(0.02);
  });

  it('rejects p outside [0, 1) and a seed that is not a u32', () => {
    const d = gpu.device;
    const state = createRngState(d, 'rng.state');
    const t = gpuZeros(d, [8]);
    expect(() => dropoutForward(d, { x: t, y: t, state, stream: 0, p: 1, label: 'drop' })).toThrow(/drop: dropout p=1, expected 0 <= p < 1/);
    expect(() => setRngState(d, state, -1, 0)).toThrow(/rng.state: seed=-1/);
  });
});
