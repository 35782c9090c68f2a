// Attention core and batched matmul kernels vs the PyTorch golden and the CPU reference
// (odd shapes: C and N not multiples of the 64x64x16 GEMM tile nor of the 256-thread softmax rows).
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { attentionBackward, attentionForward, attentionFusesProjection, fusedAttentionRows } from '../../src/kernels/attention';
import { batchedMatmul, type Strides } from '../../src/kernels/matmul';
import { GEMM_TILES } from '../../src/kernels/gemm';
import { attentionCore, attentionCoreBackward } from '../../src/ref/attention';
import { expectClose, loadReference } from '../unit/ref-helpers';
import { BWD, FWD, gpuZeros, packOnGpu, randomTensor, run, toGpu, useGpu, withGemmTile } from './harness';
import { conv2d } from '../../src/ref/conv2d';
import { CONV1X1 } from '../../src/host/layers';
import type { Tensor } from '../../src/gpu/tensor';

const gpu = useGpu();

/** The attention core forward and backward; with `stackedGrads`, dq, dk and dv are views of one
 *  tensor, as the UNet's are (dq and dk then come from one dispatch). */
async function gpuAttention(q: HostTensor, k: HostTensor, v: HostTensor, dy: HostTensor, unfused = false, unfusedBackward = unfused, stackedGrads = false) {
  const d = gpu.device;
  const [B, , N] = q.shape as [number, number, number];
  // q, k and v in one buffer, as the UNet's stacked q/k/v GEMM writes them
  const [tq, tk, tv] = packOnGpu(d, [q, k, v], 'qkv') as [Tensor, Tensor, Tensor];
  const tdy = toGpu(d, dy, 'dy');
  const p = gpuZeros(d, [B, N, N], 'p'), scratch = gpuZeros(d, [B, N, N], 'scratch');
  const zero = { shape: q.shape, data: new Float32Array(q.data.length) };
  const y = gpuZeros(d, q.shape, 'y');
  const [dq, dk, dv] = (stackedGrads ? packOnGpu(d, [zero, zero, zero], 'dqkv') : ['dq', 'dk', 'dv'].map((n) => gpuZeros(d, q.shape, n))) as [Tensor, Tensor, Tensor];
  const backward = attentionBackward(d, { q: tq, k: tk, v: tv, p, dy: tdy, dq, dk, dv, scratch, unfused: unfusedBackward, label: 'attn' });
  const [gy, gp, gdq, gdk, gdv] = await run(d, [...attentionForward(d, { q: tq, k: tk, v: tv, p, y, unfused, label: 'attn' }), ...backward], [y, p, dq, dk, dv]);
  return { y: gy!, p: gp!, dq: gdq!, dk: gdk!, dv: gdv!, backwardDispatches: backward.length };
}

/** Plain-loop C (= or +=) alpha * A B over strided views, in float64. */
function matmulLoop(
  a: Float32Array, b: Float32Array, c: Float32Array, [batch, m, n, k]: number[],
  as: Strides, bs: Strides, cs: Strides, alpha: number, accumulate: boolean,
): Float32Array {
  const out = c.slice();
  for (let bi = 0; bi < batch; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let l = 0; l < k; l++) s += a[bi * as[0] + i * as[1] + l * as[2]]! * b[bi * bs[0] + l * bs[1] + j * bs[2]]!;
        const at = bi * cs[0] + i * cs[1] + j * cs[2];
        out[at] = (accumulate ? out[at]! : 0) + alpha * s;
      }
    }
  }
  return out;
}

describe('attention core on WebGPU', () => {
  it('attention_core matches the PyTorch golden', async () => {
    const ref = loadReference('ops.safetensors');
    const t = (n: string) => getTensor(ref, `attention_core/${n}`);
    const out = await gpuAttention(t('q'), t('k'), t('v'), t('grad_y'));
    expectClose(out.y, t('y').data, FWD.atol, FWD.rtol, 'attention_core y');
    expectClose(out.dq, t('grad_q').data, BWD.atol, BWD.rtol, 'attention_core grad_q');
    expectClose(out.dk, t('grad_k').data, BWD.atol, BWD.rtol, 'attention_core grad_k');
    expectClose(out.dv, t('grad_v').data, BWD.atol, BWD.rtol, 'attention_core grad_v');
  });

  it('fuses the forward where a block of query rows fits in workgroup memory', () => {
    expect(fusedAttentionRows(64, 64)).toBe(8);     // the bundled model's 8x8 attention
    expect(fusedAttentionRows(256, 256)).toBe(4);   // cifar10's 16x16 attention at ch 256
    expect(fusedAttentionRows(512, 1024)).toBe(2);
    expect(fusedAttentionRows(3, 3100)).toBe(0);    // one row's scores alone overflow: three dispatches
    const d = gpu.device;
    const t = (shape: number[]) => gpuZeros(d, shape);
    const zeros = { shape: [2, 64, 64], data: new Float32Array(2 * 64 * 64) };
    const [q, k, v] = packOnGpu(d, [zeros, zeros, zeros], 'qkv') as [Tensor, Tensor, Tensor];
    expect(attentionForward(d, { q, k, v, p: t([2, 64, 64]), y: t([2, 64, 64]), label: 'a' })).toHaveLength(1);
    expect(() => attentionForward(d, { q: t([2, 64, 64]), k: t([2, 64, 64]), v: t([2, 64, 64]), p: t([2, 64, 64]), y: t([2, 64, 64]), label: 'a' }))
      .toThrow(/a\.qkv: .* must lie in one buffer/);
  });

  // Fused: 8 rows per workgroup with a ragged last block (N = 70, 300), more rows than N (N = 5), and
  // N = 300, longer than the 64-thread softmax workgroup; and the unfused GEMM-softmax-GEMM path.
  for (const [B, C, N, unfused] of [[1, 13, 70, false], [3, 13, 5, false], [1, 4, 300, false], [3, 13, 70, true], [1, 4, 300, true]] as const) {
    it(`B=${B} C=${C} N=${N} matches the CPU reference${unfused ? ', unfused' : ''}`, async () => {
      const q = randomTensor([B, C, N], 1), k = randomTensor([B, C, N], 2), v = randomTensor([B, C, N], 3);
      const dy = randomTensor([B, C, N], 4);
      const fwd = attentionCore(q, k, v);
      const bwd = attentionCoreBackward(q, k, v, fwd.p, dy);
      const out = await gpuAttention(q, k, v, dy, unfused);
      expectClose(out.y, fwd.y.data, FWD.atol, FWD.rtol, 'y');
      expectClose(out.p, fwd.p, FWD.atol, FWD.rtol, 'p');
      expectClose(out.dq, bwd.dq.data, BWD.atol, BWD.rtol, 'dq');
      expectClose(out.dk, bwd.dk.data, BWD.atol, BWD.rtol, 'dk');
      expectClose(out.dv, bwd.dv.data, BWD.atol, BWD.rtol, 'dv');
    });
  }

  // dP and the softmax backward in one dispatch: the same sums in the same order as the GEMM and the
  // row kernel, so the same bits (ragged blocks of 8 rows; a row longer than the 64-thread workgroup).
  for (const [B, C, N] of [[3, 13, 70], [1, 4, 300]] as const) {
    it(`B=${B} C=${C} N=${N}: the fused dS gives the two dispatches' bits`, async () => {
      const q = randomTensor([B, C, N], 11), k = randomTensor([B, C, N], 12), v = randomTensor([B, C, N], 13);
      const dy = randomTensor([B, C, N], 14);
      const [fused, unfused] = [await gpuAttention(q, k, v, dy, true, false), await gpuAttention(q, k, v, dy, true, true)];
      for (const g of ['dq', 'dk', 'dv'] as const) expect(fused[g], g).toEqual(unfused[g]);
    });
  }

  // dq and dk as one GEMM dispatch of two where their tensors are views of one (the UNet's): the same
  // sums, so the same bits as two dispatches (ragged tiles: C = 13, N = 70).
  it('computes dq and dk in one dispatch when they are views of one tensor, with the bits of two', async () => {
    const [B, C, N] = [3, 13, 70];
    const q = randomTensor([B, C, N], 21), k = randomTensor([B, C, N], 22), v = randomTensor([B, C, N], 23), dy = randomTensor([B, C, N], 24);
    const [two, one] = [await gpuAttention(q, k, v, dy), await gpuAttention(q, k, v, dy, false, false, true)];
    for (const g of ['dq', 'dk', 'dv'] as const) expect(one[g], g).toEqual(two[g]);
    expect([two.backwardDispatches, one.backwardDispatches]).toEqual([4, 3]);
  });

  // The attention block's proj_out (1x1 conv) and residual applied by the fused forward: against
  // the reference core, then its conv1x1, plus x. C = 13 and N = 70: ragged blocks of 8 rows.
  it('applies the block projection and residual in the fused dispatch (B=3, C=13, N=70)', async () => {
    const d = gpu.device;
    const [B, C, N] = [3, 13, 70];
    const q = randomTensor([B, C, N], 61), k = randomTensor([B, C, N], 62), v = randomTensor([B, C, N], 63), x = randomTensor([B, C, N], 64);
    const w = randomTensor([C, C, 1, 1], 65, 0.3), bias = randomTensor([C], 66);
    const [tq, tk, tv] = packOnGpu(d, [q, k, v], 'qkv') as [Tensor, Tensor, Tensor];
    const [tw, tb] = packOnGpu(d, [w, bias], 'proj') as [Tensor, Tensor];
    const p = gpuZeros(d, [B, N, N], 'p'), y = gpuZeros(d, [B, C, N], 'y'), out = gpuZeros(d, [B, C, N], 'out');
    expect(attentionFusesProjection(C, N)).toBe(true);
    const [gy, gout] = await run(d, attentionForward(d, {
      q: tq, k: tk, v: tv, p, y, proj: { w: tw, bias: tb, residual: toGpu(d, x, 'x'), out }, label: 'attn',
    }), [y, out]);
    const ref = attentionCore(q, k, v);
    const projected = conv2d({ shape: [B, C, N, 1], data: ref.y.data }, w, bias, CONV1X1);
    expectClose(gy!, ref.y.data, FWD.atol, FWD.rtol, 'y');
    expectClose(gout!, projected.data.map((s, i) => s + x.data[i]!), FWD.atol, FWD.rtol, 'x + proj_out(y)');
    expect(attentionFusesProjection(256, 256)).toBe(false);   // cifar10's 16 px attention: W read per workgroup
  });

  it('rejects [B, C, H, W] inputs that were not reshaped', () => {
    const d = gpu.device;
    const x = gpuZeros(d, [1, 2, 3, 3], 'q');
    expect(() => attentionForward(d, { q: x, k: x, v: x, p: gpuZeros(d, [1, 9, 9]), y: x, label: 'mid.attn' }))
      .toThrow(/mid\.attn: attention takes q of shape \[B, C, N\], got \[1,2,3,3\]/);
  });
});

describe('batched strided matmul on WebGPU', () => {
  // 2 x (70 x 67) outputs from K = 35: ragged row and column tiles of every size, three K slices,
  // the last ragged.
  const [batch, m, n, k] = [2, 70, 67, 35];

  it('reads transposed A and B and writes a transposed C, with every tile', async () => {
    const d = gpu.device;
    const a = randomTensor([batch, k, m], 5), b = randomTensor([batch, n, k], 6);
    const as: Strides = [k * m, 1, m], bs: Strides = [n * k, 1, k], cs: Strides = [m * n, 1, m];
    const want = matmulLoop(a.data, b.data, new Float32Array(batch * m * n), [batch, m, n, k], as, bs, cs, 1, false);
    for (const tile of Object.keys(GEMM_TILES)) {
      const c = gpuZeros(d, [batch, n, m], 'c');
      const [got] = await withGemmTile(d, tile, () => run(d, [batchedMatmul(d, {
        a: toGpu(d, a), b: toGpu(d, b), c, batch, m, n, k, aStrides: as, bStrides: bs, cStrides: cs, accumulate: false, label: 'mm.t',
      })], [c]));
      expectClose(got!, want, FWD.atol, FWD.rtol, `transposed matmul, ${tile} tiles`);
    }
  });

  it('accumulates alpha * A B into C, with B broadcast over the batch (stride 0), with every tile', async () => {
    const d = gpu.device;
    const a = randomTensor([batch, m, k], 7), b = randomTensor([k, n], 8), c0 = randomTensor([batch, m, n], 9);
    const as: Strides = [m * k, k, 1], bs: Strides = [0, n, 1], cs: Strides = [m * n, n, 1];
    const want = matmulLoop(a.data, b.data, c0.data, [batch, m, n, k], as, bs, cs, -0.5, true);
    for (const tile of Object.keys(GEMM_TILES)) {
      const c = toGpu(d, c0, 'c');
      const [got] = await withGemmTile(d, tile, () => run(d, [batchedMatmul(d, {
        a: toGpu(d, a), b: toGpu(d, b), c, batch, m, n, k, aStrides: as, bStrides: bs, alpha: -0.5, accumulate: true, label: 'mm.acc',
      })], [c]));
      expectClose(got!, want, FWD.atol, FWD.rtol, `accumulated matmul, ${tile} tiles`);
    }
  });

  it('rejects strides that reach outside a tensor', () => {
    const d = gpu.device;
    const a = gpuZeros(d, [2, 5, 4], 'a'), b = gpuZeros(d, [2, 4, 3], 'b'), c = gpuZeros(d, [2, 5, 3], 'c');
    const args = { a, b, c, batch: 2, m: 5, n: 3, k: 4, aStrides: [20, 4, 1], bStrides: [12, 3, 1], accumulate: false, label: 'bad.mm' } as const;
    expect(() => batchedMatmul(d, args)).not.toThrow();
    expect(() => batchedMatmul(d, { ...args, aStrides: [21, 4, 1] }))
      .toThrow(/bad\.mm: matmul A of \[2,5,4\] with strides \[21,4,1\] reaches element 40, but tensor "a" \[2,5,4\] has 40/);
    expect(() => batchedMatmul(d, { ...args, cStrides: [15, 4, 1] }))
      .toThrow(/bad\.mm: matmul C of \[2,5,3\] with strides \[15,4,1\] reaches element 33, but tensor "c" \[2,5,3\] has 30/);
    expect(() => batchedMatmul(d, { ...args, bStrides: [12, -3, 1] }))
      .toThrow(/bad\.mm: matmul B strides \[12,-3,1\] must be non-negative integers/);
  });
});
