// elementwise kernels (addInto) vs plain sums. (The skip concatenation has no kernel of its own:
// groupnorm and conv2d read its two parts in place, tested there against src/ref/concat.ts.)
import { describe, expect, it } from 'vitest';
import { addInto } from '../../src/kernels/elementwise';
import { expectClose } from '../unit/ref-helpers';
import { gpuZeros, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();
const plus = (a: Float32Array, b: Float32Array): Float32Array => a.map((v, i) => v + b[i]!);

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
