// The per-kernel profile (`ddim bench --profile`): every kernel belongs to a named family, and the
// profile of a real forward pass accounts for each of its dispatches (on SwiftShader: shares only).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kernelFamily, profileDispatches } from '../../src/gpu/profile';
import { upload } from '../../src/gpu/tensor';
import { initParameters } from '../../src/nn/init';
import { PRESETS } from '../../src/nn/presets';
import { UNet } from '../../src/nn/unet';
import { useGpu } from './harness';

const gpu = useGpu();

describe('per-kernel profile', () => {
  it('puts every entry point of every shader in a named family', () => {
    const dir = new URL('../../shaders/', import.meta.url);
    const entries = readdirSync(dir).filter((f) => f.endsWith('.wgsl')).flatMap((f) => {
      const code = readFileSync(new URL(f, dir), 'utf8');
      return [...code.matchAll(/@compute[^\n]*\n\s*fn (\w+)/g)].map((m) => `${f.replace('.wgsl', '')}.${m[1]}`);
    });
    expect(entries.length).toBeGreaterThan(30);
    expect(entries.filter((e) => kernelFamily(e) === 'other')).toEqual([]);
    expect(kernelFamily('conv2d.backward_weight')).toBe('conv weight-gradient GEMM');
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
});
