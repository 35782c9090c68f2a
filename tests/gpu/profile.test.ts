// The per-kernel profile (`ddim bench --profile`): every kernel belongs to a named family, and the
// profile of a real forward pass accounts for each of its dispatches (on SwiftShader: shares only).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kernelFamily, profileDispatches } from '../../src/gpu/profile';
import { upload } from '../../src/gpu/tensor';
import { initParameters } from '../../src/nn/init';
import { BUNDLED_ARCHITECTURE, PRESETS } from '../../src/nn/presets';
import { UNet } from '../../src/nn/unet';
import { useGpu } from './harness';

const gpu = useGpu();
const emulated = useGpu('matrix-emulated');

describe('per-kernel profile', () => {
  it('puts every entry point of every shader in a named family', () => {
    const dir = new URL('../../shaders/', import.meta.url);
    const entries = readdirSync(dir).filter((f) => f.endsWith('.wgsl')).flatMap((f) => {
      const code = readFileSync(new URL(f, dir), 'utf8');
      return [...code.matchAll(/@compute[^\n]*\n\s*fn (\w+)/g)].map((m) => `${f.replace('.wgsl', '')}.${m[1]}`);
    });
    expect(entries.length).toBeGreaterThan(30);
    expect(entries.filter((e) => kernelFamily(e) === 'other')).toEqual([]);
    expect(kernelFamily('conv2d.backward')).toBe('conv backward GEMMs');
  });

  it('accounts for every dispatch of a forward pass, with GFLOP/s for the GEMMs', async () => {
    const d = gpu.device;
    const net = new UNet(d, PRESETS.tiny!, { batch: 1, label: 'profile' });
    upload(d, net.params.flat, initParameters(net.layout, 0));
    const p = await profileDispatches(d, net.forward, 1);
    expect(p.families.reduce((s, f) => s + f.dispatches, 0)).toBe(net.forward.length);
    expect(p.families.reduce((s, f) => s + f.share, 0)).toBeCloseTo(1, 6);
    const conv = p.families.find((f) => f.family === 'conv forward GEMM')!;
    expect(conv.flops).toBe(net.forward.filter((x) => x.kernel === 'conv2d.forward').reduce((s, x) => s + x.flops, 0));
    expect(conv.gflops).toBeGreaterThan(0);
    expect(p.families.find((f) => f.family === 'groupnorm')!.gflops).toBeNull();
  });

  // What `ddim bench` counts: the bundled forward at batch 1 was 112 dispatches (51 conv, 27 GroupNorm,
  // 12 attention, 14 linear, 8 concat and upsample). Fused since: the attention core (3 -> 1 per
  // block), every temb_proj in one dispatch, the upsample read inside its conv, q/k/v in one GEMM,
  // each nin_shortcut inside its conv2's GEMM, proj_out and the residual inside the attention, the
  // skip concatenation read in place by its GroupNorm and shortcut, the time-embedding MLP in one.
  it('plans the bundled forward in 65 dispatches: no upsample, concat, shortcut, proj_out or dense layer of its own', () => {
    const net = new UNet(gpu.device, BUNDLED_ARCHITECTURE, { batch: 1, label: 'count' });
    const count = (kernel: string) => net.forward.filter((x) => x.kernel === kernel).length;
    const named = (suffix: string) => net.forward.filter((x) => x.label.includes(`${suffix} (`)).length;   // "mid.attn_1.qkv (conv2d.forward)"
    expect(net.forward.length).toBe(65);
    expect(count('resample.expand2x2')).toBe(0);   // the nearest upsampling's kernel
    expect(net.forward.filter((x) => x.kernel.startsWith('elementwise.')).length).toBe(0);   // concat's was there
    expect(count('attention.forward_fused')).toBe(4);
    expect(named('.qkv')).toBe(4);
    expect(named('.nin_shortcut') + named('.proj_out')).toBe(0);
    expect(count('linear.forward')).toBe(1);   // every temb_proj
    expect(count('timestep.embed_mlp')).toBe(1);   // the embedding, temb.dense.0 and temb.dense.1
    // Every GroupNorm computes its statistics alone: the convolutions normalise as they load.
    expect(count('groupnorm.statistics')).toBe(27);
    expect(count('groupnorm.forward')).toBe(0);
    const written = (n: UNet) => n.forward.reduce((s, x) => s + x.bytesWritten, 0);
    const writing = new UNet(gpu.device, BUNDLED_ARCHITECTURE, { batch: 1, normaliseOnLoad: false, label: 'count' });
    expect(writing.forward.length).toBe(65);
    expect(written(net)).toBeLessThan(0.7 * written(writing));
    writing.destroy();
    net.destroy();
  });

  // The bundled backward at batch 1 was 4 dispatches per GroupNorm (dx, the parameter partials, a
  // sum each for dw and db), a plane-sum and a batch sum per convolution's bias, 2 per temb_proj and
  // one add per identity shortcut, and two GEMM dispatches per convolution.
  it('plans the bundled backward: one dispatch per GroupNorm with the residual add or the plane sums, every second stage in one, temb_proj in one, the biases in their GEMM, one dispatch per convolution or stacked q/k/v, three per attention core', () => {
    const net = new UNet(gpu.device, BUNDLED_ARCHITECTURE, { batch: 1, grad: true, label: 'count' });
    const count = (kernel: string) => net.backward.filter((x) => x.kernel === kernel).length;
    const norms = net.forward.filter((x) => x.kernel.startsWith('groupnorm.')).length;
    expect(count('groupnorm.backward')).toBe(norms);
    expect(count('reduce.sum_rows_table')).toBe(1);   // no split-K at batch 1: the per-sample sums alone
    // Plane sums where the time embedding needs them (one per ResBlock), made by norm2's backward (the
    // only reader of conv1's output); every other bias comes out of its weight-gradient GEMM: at batch
    // 1 the grids are small enough for a column of tiles more where Ci*K*K is a multiple of 64 (31 of
    // the 51 convolutions, which had a plane sum each).
    const resBlocks = net.forward.filter((x) => x.label.endsWith('.conv1 (conv2d.forward)')).length;
    expect(resBlocks).toBe(11);
    expect(net.backward.filter((x) => x.label.endsWith('+db (conv2d.backward)')).length).toBe(0);   // no plane sums of a bias's own
    // Both GEMMs of each of the 51 convolutions in one dispatch, and each attention block's q, k and v
    // (stacked in the forward) in one: 51 - 4 * 2.
    expect(count('conv2d.backward')).toBe(43);
    expect(net.backward.filter((x) => x.label.endsWith('.qkv.dx+dw (conv2d.backward)')).length).toBe(4);
    // The linear layers' parameter and input gradients in one dispatch each: temb_proj (all blocks), dense.1, dense.0.
    expect(net.backward.filter((x) => x.label.startsWith('temb_proj.')).length).toBe(1);
    expect(count('linear.backward')).toBe(3);
    expect(net.backward.filter((x) => x.kernel.startsWith('elementwise.')).length).toBe(0);   // residual adds: inside GroupNorm's backward
    // Each attention block's dS in one dispatch (dP and the softmax backward), then dv, and dq with dk.
    expect(count('attention.backward_ds_fused')).toBe(4);
    expect(count('attention.softmax_backward')).toBe(0);
    expect(count('matmul.matmul')).toBe(8);
    expect(net.backward.length).toBe(88);   // 367 before these fusions
    net.destroy();
  });

  // The reduced tiers keep every bias gradient out of the GEMMs (f16 operands would round dy): their
  // per-sample sums ride in the convolution's backward dispatch, where 40 dispatches of their own were,
  // and the attention's q, k and v keep their one backward dispatch (plane sums of the three).
  it('plans the bundled backward in a reduced tier with each bias\'s plane sums in its convolution\'s dispatch', () => {
    const net = new UNet(emulated.device, BUNDLED_ARCHITECTURE, { batch: 1, grad: true, label: 'count' });
    expect(net.backward.filter((x) => x.label.endsWith('.dx+dw+db (conv2d.backward)')).length).toBe(32);
    expect(net.backward.filter((x) => x.label.endsWith('.qkv.dx+dw+db (conv2d.backward)')).length).toBe(4);
    expect(net.backward.filter((x) => x.kernel === 'conv2d.backward').length).toBe(43);
    expect(net.backward.length).toBe(88);
    net.destroy();
  });

  // At batch 8, 34 of the bundled model's convolutions split their weight gradient (K = 8 x 256
  // pixels at 16 px), and each split once had its own sum: 128 backward dispatches. The attention's
  // q, k and v, split, keep their one dispatch: a table entry for each one's share of dw (and db).
  it('plans the bundled backward at batch 8 with every split-K sum in one dispatch, q, k and v together', () => {
    const net = new UNet(gpu.device, BUNDLED_ARCHITECTURE, { batch: 8, grad: true, label: 'count' });
    const tables = net.backward.filter((x) => x.kernel === 'reduce.sum_rows_table');
    expect(tables.map((x) => x.label)).toEqual(['count.split_sums.row_sums (reduce.sum_rows_table)', 'count.row_sums (reduce.sum_rows_table)']);
    expect(tables[0]!.workgroups[1]).toBe(43);   // a table entry (a workgroup row) per split convolution or share
    expect(net.backward.filter((x) => x.label.includes('.qkv.dx+dw')).length).toBe(4);
    expect(net.backward.length).toBe(89);   // 95 with the three split attention blocks' q, k and v apart
    net.destroy();
  });
});
