// Model import: the reference layout and diffusers' UNet2DModel layout (old and new attention names)
// both come out as the reference layout, tensor for tensor, with the config from metadata, a
// config.json or the shapes; bad files are refused with the tensor and shape named.
import { describe, expect, it } from 'vitest';
import { parameterSpecs } from '../../src/nn/architecture';
import { configFromMetadata } from '../../src/nn/config';
import { referenceName, toReferenceLayout } from '../../src/io/convert';
import type { SafetensorsFile } from '../../src/host/tensor';
import { loadReference } from './ref-helpers';
import { TINY_DIFFUSERS_CONFIG, toDiffusers } from '../fixtures/diffusers';

const tiny = loadReference('unet-tiny.safetensors');
const tinyConfig = configFromMetadata(tiny.metadata, 'unet-tiny');

function expectSameWeights(got: Map<string, { shape: number[]; data: Float32Array }>): void {
  const specs = parameterSpecs(tinyConfig);
  expect([...got.keys()]).toEqual(specs.map((s) => s.name));
  for (const s of specs) {
    expect(got.get(s.name)!.shape, s.name).toEqual(s.shape);
    const [a, b] = [got.get(s.name)!.data, tiny.tensors.get(s.name)!.data];
    expect(a.length === b.length && a.every((v, i) => v === b[i]), s.name).toBe(true);
  }
}

describe('toReferenceLayout', () => {
  it('passes a reference file through, config and diffusion from __metadata__', () => {
    const m = toReferenceLayout(tiny, 'unet-tiny');
    expect(m.layout).toBe('reference');
    expect(m.config).toEqual(tinyConfig);
    expect(JSON.parse(m.metadata.diffusion!)).toEqual(JSON.parse(tiny.metadata.diffusion!));
    expectSameWeights(m.tensors);
  });

  for (const names of ['old', 'new'] as const) {
    it(`maps diffusers UNet2DModel (${names} attention names) with its config.json`, () => {
      const m = toReferenceLayout(toDiffusers(tiny, 2, names), 'unet.safetensors', TINY_DIFFUSERS_CONFIG);
      expect(m.layout).toBe('diffusers');
      expect(m.config).toEqual(tinyConfig);
      expectSameWeights(m.tensors);
    });
  }

  it('infers the config of a diffusers file from its shapes', () => {
    const m = toReferenceLayout(toDiffusers(tiny, 2, 'new'), 'unet.safetensors');
    // Weights do not fix the resolution: 32 (google/ddpm-cifar10-32) puts level 1's attention at 16.
    expect(m.config).toEqual({ ...tinyConfig, resolution: 32, attn_resolutions: [16] });
    expect(toReferenceLayout(toDiffusers(tiny, 2, 'new'), 'u', { sample_size: 16 }).config).toEqual(tinyConfig);
  });

  it('names up blocks from the top resolution, as diffusers numbers them from the bottom', () => {
    expect(referenceName('up_blocks.0.resnets.2.conv_shortcut.weight', 4)).toBe('up.3.block.2.nin_shortcut.weight');
    expect(referenceName('down_blocks.1.attentions.0.to_out.0.weight', 4)).toBe('down.1.attn.0.proj_out.weight');
    expect(referenceName('mid_block.resnets.1.time_emb_proj.bias', 4)).toBe('mid.block_2.temb_proj.bias');
  });

  it('refuses bad files, naming the tensor and the shapes', () => {
    const drop = (f: SafetensorsFile, name: string): SafetensorsFile => ({ ...f, tensors: new Map([...f.tensors].filter(([n]) => n !== name)) });
    const withTensor = (f: SafetensorsFile, name: string, shape: number[]): SafetensorsFile =>
      ({ ...f, tensors: new Map([...f.tensors, [name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }]]) });
    expect(() => toReferenceLayout(drop(tiny, 'mid.attn_1.q.bias'), 'w.safetensors')).toThrow(/w\.safetensors: missing tensor "mid\.attn_1\.q\.bias" for the config ch=32/);
    expect(() => toReferenceLayout(withTensor(tiny, 'conv_out.bias', [4]), 'w.safetensors')).toThrow(/tensor "conv_out\.bias" has shape \[4\], expected \[3\]/);
    expect(() => toReferenceLayout(withTensor(tiny, 'extra.weight', [1]), 'w.safetensors')).toThrow(/unexpected tensor "extra\.weight"/);
    expect(() => toReferenceLayout({ tensors: new Map([['foo', { shape: [1], data: new Float32Array(1) }]]), metadata: {}, dtypes: new Map() }, 'x.safetensors')).toThrow(/x\.safetensors: not a UNet in the reference or diffusers layout/);
    const d = toDiffusers(tiny, 2, 'new');
    expect(() => toReferenceLayout(withTensor(d, 'down_blocks.0.foo.weight', [1]), 'd')).toThrow(/d: unexpected tensor "down_blocks\.0\.foo\.weight" for a diffusers UNet2DModel/);
    expect(() => toReferenceLayout(d, 'd', { ...TINY_DIFFUSERS_CONFIG, flip_sin_to_cos: true })).toThrow(/flip_sin_to_cos=true is not the DDPM time embedding/);
    expect(() => toReferenceLayout({ ...tiny, metadata: {} }, 'w')).toThrow(/w: no model config in __metadata__/);
  });
});
