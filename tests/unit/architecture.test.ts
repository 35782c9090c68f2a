// The parameter list must be the reference state_dict: same names, shapes and order.
import { PRESETS } from '../../src/nn/presets';
import { describe, expect, it } from 'vitest';
import { CIFAR10_CONFIG, configFromMetadata, parseConfig } from '../../src/nn/config';
import { parameterCount, parameterSpecs } from '../../src/nn/architecture';
import { loadReference } from './ref-helpers';

describe('UNet architecture', () => {
  for (const file of ['unet-tiny.safetensors', 'unet-layered.safetensors']) {
    it(`lists exactly the tensors of ${file}, in order`, () => {
      const ref = loadReference(file);
      const cfg = configFromMetadata(ref.metadata, file);
      const specs = parameterSpecs(cfg);
      expect(specs.map((s) => s.name)).toEqual([...ref.tensors.keys()]);
      for (const s of specs) expect(s.shape, s.name).toEqual(ref.tensors.get(s.name)!.shape);
    });
  }

  it('builds the CIFAR-10 model with 35,746,307 parameters', () => {
    expect(parameterCount(CIFAR10_CONFIG)).toBe(35_746_307);
  });

  it('matches the bench model small32 (6,472,195 parameters, as tools/bench_torch.py builds it in PyTorch) and the layered sub-models', () => {
    expect(parameterCount(PRESETS.small!)).toBe(6_472_195);
    const lay = loadReference('layered4.safetensors');
    const cfg = configFromMetadata(lay.metadata, 'layered4.safetensors');
    const names = parameterSpecs(cfg).map((s) => `models.250.${s.name}`);
    expect(names.every((n) => lay.tensors.has(n))).toBe(true);
  });

  it('rejects bad configs with the field named', () => {
    expect(() => parseConfig({ ch: 0, ch_mult: [1], num_res_blocks: 1, attn_resolutions: [], resolution: 16 })).toThrow(/"ch" must be a positive integer/);
    expect(() => parseConfig({ ch: 32, ch_mult: [1, 2, 2], num_res_blocks: 1, attn_resolutions: [], resolution: 18 })).toThrow(/resolution 18 is not divisible by 2\^2/);
    expect(() => parseConfig({ ch: 32, ch_mult: [1], num_res_blocks: 1, attn_resolutions: [], resolution: 16, norm_groups: 'x' })).toThrow(/norm_groups/);
  });

  it('takes norm_groups as "auto", a number or a string of digits, checked against every width at load', () => {
    const base = { ch_mult: [1, 2], num_res_blocks: 1, attn_resolutions: [], resolution: 16 };
    expect(parseConfig({ ...base, ch: 32, norm_groups: '32' }, 'a.st').norm_groups).toBe(32);
    expect(parseConfig({ ...base, ch: 32, norm_groups: 16 }, 'a.st').norm_groups).toBe(16);
    expect(() => parseConfig({ ...base, ch: 16, norm_groups: '32' }, 'a.st')).toThrow(/^a\.st: model config field "norm_groups" is 32, which does not divide the 16 channels of down\.0\.block\.0\.norm1 \(GroupNorm needs whole groups\); use "auto"/);
    for (const bad of ['3.5', -2, 0, 'constructor', null]) expect(() => parseConfig({ ...base, ch: 32, norm_groups: bad }, 'a.st'), String(bad)).toThrow(/^a\.st: model config field "norm_groups" must be "auto" or a positive integer/);
  });
});
