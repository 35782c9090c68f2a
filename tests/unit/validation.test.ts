// Nothing bad gets in: every metadata and config field is checked for type and bounds where it is
// read, before anything is expanded or allocated, with the file and the field named.
import { describe, expect, it } from 'vitest';
import { parseDiffusionConfig } from '../../src/diffusion/schedule';
import { toReferenceLayout } from '../../src/io/convert';
import type { SafetensorsFile } from '../../src/host/tensor';
import { CONFIG_LIMITS, configFromMetadata, parseConfig } from '../../src/nn/config';
import { parseLayered } from '../../src/research/layered';
import { TINY_DIFFUSERS_CONFIG, toDiffusers } from '../fixtures/diffusers';
import { loadReference } from './ref-helpers';

const tiny = loadReference('unet-tiny.safetensors');
const tinyConfig = JSON.parse(tiny.metadata.model!) as Record<string, unknown>;
const withMetadata = (file: SafetensorsFile, metadata: Record<string, string>): SafetensorsFile => ({ ...file, metadata: { ...file.metadata, ...metadata } });

describe('diffusion metadata', () => {
  const base = { beta_schedule: 'linear', beta_start: 1e-4, beta_end: 0.02, num_diffusion_timesteps: 1000 };
  const bad: [string, unknown, RegExp][] = [
    ['beta_start', -1, /f\.st: diffusion config field "beta_start" must be a number in \(0, 1\), got -1/],
    ['beta_start', 'abc', /field "beta_start" must be a number in \(0, 1\), got "abc"/],
    ['beta_end', 2, /field "beta_end" must be a number in \(0, 1\), got 2/],
    ['num_diffusion_timesteps', 0, /field "num_diffusion_timesteps" must be an integer in \[1, 100000\], got 0/],
    ['num_diffusion_timesteps', -5, /got -5/],
    ['num_diffusion_timesteps', 1.5, /got 1\.5/],
    ['num_diffusion_timesteps', 1e9, /got 1000000000/],
    ['num_diffusion_timesteps', '1000', /got "1000"/],
    ['beta_schedule', 'cosin', /field "beta_schedule" is "cosin", expected one of linear, quad, const, jsd, sigmoid, cosine/],
  ];
  for (const [field, value, message] of bad) {
    it(`refuses ${field} = ${JSON.stringify(value)}`, () => expect(() => parseDiffusionConfig({ ...base, [field]: value }, 'f.st')).toThrow(message));
  }
  it('refuses beta_start above beta_end, and a diffusion entry that is not an object', () => {
    expect(() => parseDiffusionConfig({ ...base, beta_start: 0.5 }, 'f.st')).toThrow(/f\.st: diffusion config has beta_start 0\.5 above beta_end 0\.02/);
    expect(() => parseDiffusionConfig(null, 'f.st')).toThrow(/f\.st: diffusion config must be a JSON object, got null/);
  });
  it('a model file with such metadata is refused at import, naming the file', () => {
    const file = withMetadata(tiny, { diffusion: JSON.stringify({ ...base, beta_end: 2 }) });
    expect(() => toReferenceLayout(file, 'bad.safetensors')).toThrow(/^bad\.safetensors: diffusion config field "beta_end"/);
  });
});

describe('model config', () => {
  const bad: [string, unknown, RegExp][] = [
    ['ch', 1e9, /f\.st: model config field "ch" is 1000000000, over the limit of 1024/],
    ['num_res_blocks', 1e7, /field "num_res_blocks" is 10000000, over the limit of 16/],
    ['ch_mult', Array(20).fill(1), /field "ch_mult" has 20 entries, over the limit of 8/],
    ['use_time_embed', 'false', /field "use_time_embed" must be true or false, got "false"/],
    ['resamp_with_conv', 1, /field "resamp_with_conv" must be true or false, got 1/],
    ['dropout', '0.1', /field "dropout" must be a number in \[0, 1\), got "0\.1"/],
    ['resolution', 1e6, /field "resolution" is 1000000, over the limit of 1024/],
    ['in_channels', 0, /field "in_channels" must be a positive integer, got 0/],
  ];
  for (const [field, value, message] of bad) {
    it(`refuses ${field} = ${JSON.stringify(value).slice(0, 30)}`, () => expect(() => parseConfig({ ...tinyConfig, [field]: value }, 'f.st')).toThrow(message));
  }
  it('refuses a model over the parameter limit before anything is allocated', () => {
    const huge = { ...tinyConfig, ch: 512, ch_mult: [1, 2, 4, 8], num_res_blocks: 16, resolution: 64 };
    expect(() => parseConfig(huge, 'f.st')).toThrow(new RegExp(`f\\.st: the model config has [\\d,]+ parameters, over the limit of ${CONFIG_LIMITS.parameters.toLocaleString('en-US')}`));
  });
  it('reads the metadata of the reference file unchanged', () => {
    expect(configFromMetadata(tiny.metadata, 'unet-tiny').ch).toBe(tinyConfig.ch);
  });
});

describe('diffusers config.json', () => {
  const diffusers = toDiffusers(tiny, 2, 'new');
  it('refuses down_block_types that are not block names, and a layers_per_block of 1e9', () => {
    expect(() => toReferenceLayout(diffusers, 'unet.safetensors', { ...TINY_DIFFUSERS_CONFIG, down_block_types: [1, 2] }))
      .toThrow(/^unet\.safetensors: config down_block_types must be a list of block names \(strings\), got \[1,2\]/);
    expect(() => toReferenceLayout(diffusers, 'unet.safetensors', { ...TINY_DIFFUSERS_CONFIG, layers_per_block: 1e9 }))
      .toThrow(/^unet\.safetensors: model config field "num_res_blocks" is 1000000000, over the limit of 16/);
  });
});

describe('weights', () => {
  it('refuses a non-finite weight at import, naming the tensor and index', () => {
    const tensors = new Map(tiny.tensors);
    const w = tensors.get('conv_in.weight')!;
    const data = w.data.slice();
    data[5] = NaN;
    tensors.set('conv_in.weight', { shape: w.shape, data });
    expect(() => toReferenceLayout({ ...tiny, tensors }, 'nan.safetensors')).toThrow(/^nan\.safetensors: tensor "conv_in\.weight" holds NaN at index 5; weights must be finite/);
  });
});

describe('layered metadata', () => {
  const layered = loadReference('layered4.safetensors');
  it('refuses a run-length of 1e9 before expanding it, and a null diffusion entry', () => {
    const ch = JSON.stringify([{ value: 16, num: 1e9 }]);
    expect(() => parseLayered(withMetadata(layered, { ch_num: ch }), 'l.st')).toThrow(/^l\.st: ch_num gives more than \d+ entries, expected one per step of seq/);
    expect(() => parseLayered(withMetadata(layered, { diffusion: 'null' }), 'l.st')).toThrow(/^l\.st: __metadata__\.diffusion must be a JSON object with num_block, got null/);
  });
});
