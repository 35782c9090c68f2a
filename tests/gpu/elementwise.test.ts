// elementwise kernels (concat, addInto) vs the CPU references (odd shapes, batch 1 and 3)
// and the PyTorch goldens.
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { addInto, concatBackward, concatForward } from '../../src/kernels/elementwise';
import { concatChannels, concatChannelsBackward } from '../../src/ref/concat';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { gpuZeros, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();
const golden = (name: string): HostTensor => getTensor(loadReference('ops.safetensors'), name);
const plus = (a: Float32Array, b: Float32Array): Float32Array => a.map((v, i) => v + b[i]!);


async function gpuConcat(a: HostTensor, b: HostTensor, dy: HostTensor, pre?: { da: HostTensor; db: HostTensor }) {
  const d = gpu.device;
  const y = gpuZeros(d, dy.shape, 'y');
  const da = pre ? toGpu(d, pre.da, 'da') : gpuZeros(d, a.shape, 'da');
  const db = pre ? toGpu(d, pre.db, 'db') : gpuZeros(d, b.shape, 'db');
  const [gy, gda, gdb] = await run(d, [
    concatForward(d, { a: toGpu(d, a, 'a'), b: toGpu(d, b, 'b'), y, label: 'cat' }),
    concatBackward(d, { dy: toGpu(d, dy, 'dy'), da, db, accumulate: pre !== undefined, label: 'cat' }),
  ], [y, da, db]);
  return { y: gy!, da: gda!, db: gdb! };
}

describe('concat on WebGPU', () => {
  it('matches the PyTorch golden', async () => {
    const t = (n: string) => golden(`concat_channels/${n}`);
    const out = await gpuConcat(t('a'), t('b'), t('grad_y'));
    expect(out.y).toEqual(t('y').data);
    expect(out.da).toEqual(t('grad_a').data);
    expect(out.db).toEqual(t('grad_b').data);
  });

  for (const [B, Ca, Cb, H, W] of [[3, 5, 2, 7, 9], [1, 3, 6, 5, 3]] as const) {
    it(`B=${B} Ca=${Ca} Cb=${Cb} ${H}x${W} matches the CPU reference, = and +=`, async () => {
      const a = randomTensor([B, Ca, H, W], 1), b = randomTensor([B, Cb, H, W], 2);
      const dy = randomTensor([B, Ca + Cb, H, W], 3);
      const ref = concatChannelsBackward(dy, Ca);
      const out = await gpuConcat(a, b, dy);
      expect(out.y).toEqual(concatChannels(a, b).data);
      expect(out.da).toEqual(ref.da.data);
      expect(out.db).toEqual(ref.db.data);
      const pre = { da: randomTensor(a.shape, 4), db: randomTensor(b.shape, 5) };
      const acc = await gpuConcat(a, b, dy, pre);
      expectClose(acc.da, plus(pre.da.data, ref.da.data), 0, 0, 'da +=');
      expectClose(acc.db, plus(pre.db.data, ref.db.data), 0, 0, 'db +=');
    });
  }

  it('rejects inputs whose sizes differ', () => {
    const d = gpu.device;
    expect(() => concatForward(d, {
      a: gpuZeros(d, [2, 3, 4, 4], 'a'), b: gpuZeros(d, [2, 5, 4, 5], 'b'), y: gpuZeros(d, [2, 8, 4, 4]), label: 'up.0.cat',
    })).toThrow(/up.0.cat: tensor "b" has shape \[2,5,4,5\], expected \[2,5,4,4\]/);
  });
});

describe('addInto on WebGPU', () => {
  it('y += x, and y = x with accumulate: false', async () => {
    const d = gpu.device;
    const x = randomTensor([3, 5, 7, 9], 1), y0 = randomTensor([3, 5, 7, 9], 2);
    const tx = toGpu(d, x, 'x'), acc = toGpu(d, y0, 'acc'), set = toGpu(d, y0, 'set');
    const [gacc, gset] = await run(d, [
      addInto(d, { x: tx, y: acc, accumulate: true, label: 'add' }),
      addInto(d, { x: tx, y: set, accumulate: false, label: 'copy' }),
    ], [acc, set]);
    expectClose(gacc!, plus(y0.data, x.data), 0, 0, 'y += x');
    expect(gset).toEqual(x.data);
  });

  it('y += alpha x, and y = alpha x', async () => {
    const d = gpu.device;
    const x = randomTensor([2, 3, 5, 5], 4), y0 = randomTensor([2, 3, 5, 5], 5);
    const acc = toGpu(d, y0, 'acc'), set = toGpu(d, y0, 'set'), tx = toGpu(d, x, 'x');
    const [gacc, gset] = await run(d, [
      addInto(d, { x: tx, y: acc, alpha: -0.375, accumulate: true, label: 'axpy' }),
      addInto(d, { x: tx, y: set, alpha: 2.5, accumulate: false, label: 'scale' }),
    ], [acc, set]);
    expectClose(gacc!, y0.data.map((v, i) => v - 0.375 * x.data[i]!), 1e-7, 1e-6, 'y += alpha x');
    expectClose(gset!, x.data.map((v) => 2.5 * v), 1e-7, 1e-6, 'y = alpha x');
  });
});

it('splits launches of more than 65535 workgroups over x and y', async () => {
  const d = gpu.device;
  const n = 65535 * 256 + 300;
  const x = { shape: [n], data: new Float32Array(n) };
  for (let i = 0; i < n; i++) x.data[i] = i % 1021;
  const tx = toGpu(d, x, 'x'), y = gpuZeros(d, [n], 'y');
  const dispatch = addInto(d, { x: tx, y, accumulate: true, label: 'big' });
  expect(dispatch.workgroups[1]).toBe(2);
  const [got] = await run(d, [dispatch], [y]);
  expectClose(got!, x.data, 0, 0, 'y'); // toEqual on 16M elements exhausts the heap
});
