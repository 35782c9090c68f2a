// linear kernels (optionally SiLU on the input) vs the CPU reference (odd sizes, batch 1 and 3) and
// the PyTorch golden; dw/db accumulate, dx is = or +=, and is skipped without a dx tensor.
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { linearBackward, linearForward, linearLayersBackward, linearLayersForward } from '../../src/kernels/linear';
import { alignFloats, upload, viewTensor } from '../../src/gpu/tensor';
import { silu, siluBackward } from '../../src/ref/activation';
import { linear, linearBackward as linearBackwardRef } from '../../src/ref/linear';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { BWD, FWD, gpuZeros, packOnGpu, randomTensor, run, toGpu, useGpu } from './harness';

const gpu = useGpu();
const golden = (name: string): HostTensor => getTensor(loadReference('ops.safetensors'), name);
const plus = (a: Float32Array, b: Float32Array): Float32Array => a.map((v, i) => v + b[i]!);

interface Pre { dx: HostTensor; dw: HostTensor; db: HostTensor }

/** GPU forward and backward; gradients start at `pre` (zero without it), dx accumulates onto pre.dx. */
async function gpuLinear(x: HostTensor, w: HostTensor, b: HostTensor, dy: HostTensor, siluInput: boolean, pre?: Pre) {
  const d = gpu.device;
  const [N] = x.shape as [number];
  const [Out] = w.shape as [number];
  const tx = toGpu(d, x, 'x'), tw = toGpu(d, w, 'w'), y = gpuZeros(d, [N, Out], 'y');
  const dx = pre ? toGpu(d, pre.dx, 'dx') : gpuZeros(d, x.shape, 'dx');
  const zeros = (t: HostTensor): HostTensor => ({ shape: t.shape, data: new Float32Array(t.data.length) });
  const [dw, db] = packOnGpu(d, pre ? [pre.dw, pre.db] : [zeros(w), zeros(b)], 'grads');   // the flat gradients
  const [gy, gdx, gdw, gdb] = await run(d, [
    linearForward(d, { x: tx, w: tw, b: toGpu(d, b, 'b'), y, siluInput, label: 'lin' }),
    ...linearBackward(d, { x: tx, w: tw, dy: toGpu(d, dy, 'dy'), dx, dw, db, siluInput, accumulateDx: pre !== undefined, label: 'lin' }),
  ], [y, dx, dw, db]);
  return { y: gy!, dx: gdx!, dw: gdw!, db: gdb! };
}

/** CPU reference of linear(a(x)) with a = silu or identity. */
function refLinear(x: HostTensor, w: HostTensor, b: HostTensor, dy: HostTensor, siluInput: boolean) {
  const ax = siluInput ? silu(x) : x;
  const g = linearBackwardRef(ax, w, dy);
  return { y: linear(ax, w, b).data, dx: (siluInput ? siluBackward(x, g.dx) : g.dx).data, dw: g.dw.data, db: g.db.data };
}

describe('linear on WebGPU', () => {
  it('matches the PyTorch golden', async () => {
    const t = (n: string) => golden(`linear/${n}`);
    const out = await gpuLinear(t('x'), t('w'), t('b'), t('grad_y'), false);
    expectClose(out.y, t('y').data, FWD.atol, FWD.rtol, 'linear y');
    expectClose(out.dx, t('grad_x').data, BWD.atol, BWD.rtol, 'linear grad_x');
    expectClose(out.dw, t('grad_w').data, BWD.atol, BWD.rtol, 'linear grad_w');
    expectClose(out.db, t('grad_b').data, BWD.atol, BWD.rtol, 'linear grad_b');
  });

  for (const [N, In, Out] of [[3, 37, 70], [1, 65, 9]] as const) {
    for (const siluInput of [false, true]) {
      it(`N=${N} In=${In} Out=${Out}${siluInput ? ' with SiLU on the input' : ''} matches the CPU reference, = and +=`, async () => {
        const x = randomTensor([N, In], 1, 3), w = randomTensor([Out, In], 2, 0.3), b = randomTensor([Out], 3);
        const dy = randomTensor([N, Out], 4);
        const ref = refLinear(x, w, b, dy, siluInput);
        const out = await gpuLinear(x, w, b, dy, siluInput);
        expectClose(out.y, ref.y, FWD.atol, FWD.rtol, 'y');
        expectClose(out.dx, ref.dx, BWD.atol, BWD.rtol, 'dx');
        expectClose(out.dw, ref.dw, BWD.atol, BWD.rtol, 'dw');
        expectClose(out.db, ref.db, BWD.atol, BWD.rtol, 'db');
        const pre = { dx: randomTensor(x.shape, 5), dw: randomTensor(w.shape, 6), db: randomTensor(b.shape, 7) };
        const acc = await gpuLinear(x, w, b, dy, siluInput, pre);
        expectClose(acc.dx, plus(pre.dx.data, ref.dx), BWD.atol, BWD.rtol, 'dx +=');
        expectClose(acc.dw, plus(pre.dw.data, ref.dw), BWD.atol, BWD.rtol, 'dw +=');
        expectClose(acc.db, plus(pre.db.data, ref.db), BWD.atol, BWD.rtol, 'db +=');
      });
    }
  }

  // Every ResBlock's temb_proj in one dispatch: three layers of one input, their w and b at aligned
  // offsets of one flat buffer in another order (as parameters lie), their outputs views of one tensor.
  it('runs several layers sharing their input in one dispatch, each exactly as on its own', async () => {
    const d = gpu.device;
    const [N, In] = [3, 37];
    const outs = [70, 9, 1];
    const x = randomTensor([N, In], 1, 3);
    const ws = outs.map((o, i) => randomTensor([o, In], 10 + i, 0.3)), bs = outs.map((o, i) => randomTensor([o], 20 + i));
    const order = [2, 0, 1];   // where each layer's w, b pair lies in the flat buffer
    const at: number[] = [];
    let floats = 0;
    for (const i of order) { at[i] = floats; floats += alignFloats(ws[i]!.data.length) + alignFloats(bs[i]!.data.length); }
    const flat = gpuZeros(d, [floats], 'params'), host = new Float32Array(floats);
    outs.forEach((_, i) => { host.set(ws[i]!.data, at[i]!); host.set(bs[i]!.data, at[i]! + alignFloats(ws[i]!.data.length)); });
    upload(d, flat, host);
    const all = gpuZeros(d, [outs.reduce((s, o) => s + alignFloats(N * o), 0)], 'y');
    let off = 0;
    const layers = outs.map((o, i) => {
      const y = viewTensor(all, off, [N, o], `y${i}`);
      off += alignFloats(N * o);
      return { w: viewTensor(flat, at[i]!, [o, In], `w${i}`), b: viewTensor(flat, at[i]! + alignFloats(ws[i]!.data.length), [o], `b${i}`), y };
    });
    const tx = toGpu(d, x, 'x');
    const [got] = await run(d, [linearLayersForward(d, { x: tx, layers, siluInput: true, label: 'temb_proj' })], [all]);
    off = 0;
    for (const [i, o] of outs.entries()) {
      const alone = gpuZeros(d, [N, o], 'alone');
      const [want] = await run(d, [linearForward(d, { x: tx, w: toGpu(d, ws[i]!), b: toGpu(d, bs[i]!), y: alone, siluInput: true, label: 'one' })], [alone]);
      expect(got!.subarray(off, off + N * o)).toEqual(want);   // the same sums in the same order
      expectClose(want!, refLinear(x, ws[i]!, bs[i]!, randomTensor([N, o], 4), true).y, FWD.atol, FWD.rtol, `layer ${i}`);
      off += alignFloats(N * o);
    }
  });

  // Their backward in one dispatch: every layer's dw and db, and dx summed over the layers, with the
  // bits of one dispatch per layer in table order (dx assigned by the first, then +=).
  it('runs several layers\' backward in one dispatch, with the bits of one layer at a time', async () => {
    const d = gpu.device;
    const [N, In] = [3, 37];
    const outs = [70, 9, 1];
    const x = randomTensor([N, In], 1, 3);
    const ws = outs.map((o, i) => randomTensor([o, In], 10 + i, 0.3)), dys = outs.map((o, i) => randomTensor([N, o], 30 + i));
    const pre = outs.flatMap((o, i) => [randomTensor([o, In], 40 + i), randomTensor([o], 50 + i)]);
    const tx = toGpu(d, x, 'x');
    const tw = packOnGpu(d, ws, 'w'), tdy = packOnGpu(d, dys, 'dy');
    for (const accumulate of [false, true]) {
      const grads = packOnGpu(d, pre, 'grads');
      const dx = toGpu(d, randomTensor([N, In], 60), 'dx');
      const layers = outs.map((_, i) => ({ w: tw[i]!, dy: tdy[i]!, dw: grads[2 * i]!, db: grads[2 * i + 1]! }));
      const all = linearLayersBackward(d, { x: tx, layers, dx, accumulateDx: accumulate, siluInput: true, label: 'temb_proj' });
      expect(all).toHaveLength(1);
      const got = await run(d, all, [dx, ...grads]);

      const alone = packOnGpu(d, pre, 'alone');
      const dxAlone = toGpu(d, randomTensor([N, In], 60), 'dx');
      const one = outs.flatMap((_, i) => linearBackward(d, {
        x: tx, w: tw[i]!, dy: tdy[i]!, dw: alone[2 * i]!, db: alone[2 * i + 1]!, dx: dxAlone, accumulateDx: accumulate || i > 0, siluInput: true, label: `one${i}`,
      }));
      const want = await run(d, one, [dxAlone, ...alone]);
      got.forEach((g, i) => expect(g, i === 0 ? 'dx' : `grad ${i - 1}`).toEqual(want[i]));
    }
  });

  it('skips dx without a dx tensor', () => {
    const d = gpu.device;
    const gradsOf = (o: number, i: number) => {
      const [dw, db] = packOnGpu(d, [randomTensor([o, i], 1), randomTensor([o], 2)], 'grads');
      return { dw: dw!, db: db! };
    };
    const dispatches = linearBackward(d, {
      x: gpuZeros(d, [2, 4]), w: gpuZeros(d, [3, 4]), dy: gpuZeros(d, [2, 3]), ...gradsOf(3, 4), label: 'temb.dense.0',
    });
    expect(dispatches.map((x) => x.label)).toEqual(['temb.dense.0.dparams (linear.backward)']);
  });

  it('rejects a weight that does not fit the input', () => {
    const d = gpu.device;
    expect(() => linearForward(d, {
      x: gpuZeros(d, [2, 4], 'x'), w: gpuZeros(d, [3, 5], 'w'), b: gpuZeros(d, [3]), y: gpuZeros(d, [2, 3]), label: 'bad',
    })).toThrow(/bad: linear input "x" \[2,4\] does not fit weight "w" \[3,5\]/);
    const layer = () => ({ w: gpuZeros(d, [3, 4], 'w'), b: gpuZeros(d, [3]), y: gpuZeros(d, [2, 3]) });
    expect(() => linearLayersForward(d, { x: gpuZeros(d, [2, 4], 'x'), layers: [layer(), layer()], label: 'two' }))
      .toThrow(/two\.weights: w and w must lie in one buffer to share a binding/);
  });
});
