// A seeded fuzz test of every model format's loading path (the page's import and the CLI's loader:
// safetensors parsing, layout conversion, config and diffusion checks, weight validation, the
// schedule): mutated copies of the bundled and the reference models must each end in a clean error
// that names the file (an Error, not a TypeError/RangeError/SyntaxError), quickly, and every mutation
// that makes a file invalid must be refused. A file that is accepted must hold a valid model.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alphaBars, betaSchedule } from '../../src/diffusion/schedule';
import { readModelFile } from '../../src/app/model-files';
import { FILE_FORMATS } from '../../src/host/metadata';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { parameterSpecs } from '../../src/nn/architecture';
import { parseConfig } from '../../src/nn/config';
import { initParameters } from '../../src/nn/init';
import { packParameters, paramLayout } from '../../src/nn/params';
import { TINY_DIFFUSERS_CONFIG, toDiffusers } from '../fixtures/diffusers';
import { loadReference } from './ref-helpers';

const MUTATIONS = 1200;
const SLOW_MS = 2000;

// ---- the base files, one per format -------------------------------------------------------------

const read = (url: URL): Uint8Array => new Uint8Array(readFileSync(url));
type Kind = 'reference' | 'bundled' | 'diffusers' | 'checkpoint' | 'layered';
interface Base { kind: Kind; bytes: Uint8Array; config?: Record<string, unknown> }

function checkpointBytes(): Uint8Array {
  const config = { ch: 16, out_ch: 3, ch_mult: [1, 2], num_res_blocks: 1, attn_resolutions: [4], dropout: 0, in_channels: 3, resolution: 8, norm_groups: 'auto' };
  const layout = paramLayout(parameterSpecs(parseConfig(config)));
  const flat = initParameters(layout, 1);
  const tensors = new Map<string, HostTensor>();
  for (const prefix of ['model/', 'ema/', 'adam_m/', 'adam_v/']) {
    for (const s of layout.specs) {
      const at = layout.offsets.get(s.name)!;
      tensors.set(prefix + s.name, { shape: [...s.shape], data: flat.slice(at, at + s.shape.reduce((a, b) => a * b, 1)) });
    }
  }
  return serializeSafetensors(tensors, {
    format: FILE_FORMATS.checkpoint, model: JSON.stringify(config), step: '3',
    diffusion: JSON.stringify({ beta_schedule: 'linear', beta_start: 1e-4, beta_end: 0.02, num_diffusion_timesteps: 1000 }),
    trainer: JSON.stringify({ batch: 2, seed: 0, randomFlip: true, warmupSteps: 0, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 1, emaRate: 0.999 }),
  });
}

const BASES: Base[] = [
  { kind: 'reference', bytes: read(new URL('../../../shared/reference/unet-tiny.safetensors', import.meta.url)) },
  { kind: 'bundled', bytes: read(new URL('../../public/models/emoji16.safetensors', import.meta.url)) },
  { kind: 'diffusers', bytes: serializeSafetensors(toDiffusers(loadReference('unet-tiny.safetensors'), 2, 'new').tensors), config: TINY_DIFFUSERS_CONFIG },
  { kind: 'checkpoint', bytes: checkpointBytes() },
  { kind: 'layered', bytes: read(new URL('../../../shared/reference/layered4.safetensors', import.meta.url)) },
];

// ---- the loading path -----------------------------------------------------------------------------

/** Loads a file as the app does (the format registry, app/model-files.ts); returns the weights it accepted (for the invariants). */
function load(bytes: Uint8Array, source: string, config?: unknown): HostTensor[] {
  const opened = readModelFile(parseSafetensors(bytes, source), source, config === undefined ? undefined : { text: JSON.stringify(config), name: `${source} config.json` });
  if (opened.kind === 'layered') {
    const { file, model: m } = opened;
    for (const t of m.seq) packParameters(paramLayout(parameterSpecs(m.configs.get(t)!)), file, source, `models.${t}.`);
    if (!m.abar.every((a) => Number.isFinite(a) && a >= 0 && a <= 1)) throw new Error(`${source}: invariant: alpha-bar out of [0, 1]`);
    return [...file.tensors.values()].filter((_, i) => [...file.tensors.keys()][i]!.startsWith('models.'));
  }
  if (opened.kind !== 'unet') throw new Error(`${source}: invariant: a model file opened as ${opened.kind}`);
  const { model } = opened;
  const abar = alphaBars(betaSchedule(model.diffusion));
  if (!abar.every((a) => Number.isFinite(a) && a >= 0 && a <= 1)) throw new Error(`${source}: invariant: alpha-bar out of [0, 1]`);
  parseConfig(JSON.parse(model.metadata.model!), source);
  return [...model.tensors.values()];
}

// ---- mutations ------------------------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

interface Split { header: Record<string, Record<string, unknown>>; data: Uint8Array }

function split(bytes: Uint8Array): Split {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

function join(s: Split): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(s.header));
  const out = new Uint8Array(8 + json.length + s.data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(s.data, 8 + json.length);
  return out;
}

const INT = [-1, 0, 1.5, 1e9, 1e300, '32', null, [], {}, true];
const HOSTILE: Record<string, unknown[]> = {
  ch: INT, num_res_blocks: INT, resolution: INT, in_channels: INT, out_ch: INT,
  ch_mult: [[], [0], [1e9], '1,2', null, Array(100).fill(1), [1.5]],
  attn_resolutions: ['8', [1e9], [-8], null, Array(100).fill(8)],
  use_time_embed: ['false', 0, 1, null, 'true'],
  resamp_with_conv: ['false', 0, 1, null],
  dropout: [-0.1, 1, '0.1', null, 2],
  norm_groups: [7, '7', 'abc', 0, -32, '3.5', null, 'constructor'],
  beta_start: [-1, 0, 2, 'abc', null, 1e9], beta_end: [-1, 0, 2, 'abc', null, 1e9],
  num_diffusion_timesteps: [0, -5, 1.5, 1e9, '1000', null],
  beta_schedule: ['cosin', 3, null, '__proto__', 'constructor', 'toString'],
  num_block: [0, 1, 1e9, '4', null, 1.5],
};
const WHOLE = ['not json', 'null', '[]', '42', '"x"', '{'];
const DIFFUSERS_HOSTILE: Record<string, unknown[]> = {
  layers_per_block: [1e9, 0, '1', -1], block_out_channels: [[1e9, 2e9], [0, 64], 'x', [32.5, 64]],
  down_block_types: [[1, 2], 'DownBlock2D', [null, null]], sample_size: ['16', -16, 1e9], in_channels: [-1, '3', 1e9],
};

interface Mutant { bytes: Uint8Array; config?: unknown; what: string; mustReject: boolean }

function mutate(base: Base, r: () => number): Mutant {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const s = split(base.bytes);
  const tensors = Object.keys(s.header).filter((k) => k !== '__metadata__');
  const kinds = ['truncate', 'header-length', 'header-byte', 'data-byte', 'nan', 'entry', 'prototype'];
  if (base.kind !== 'diffusers') kinds.push('meta-field', 'meta-field', 'meta-whole');
  else kinds.push('config', 'config');
  const kind = pick(kinds);
  switch (kind) {
    case 'truncate': {
      const at = Math.floor(r() * (base.bytes.length - 1));
      return { bytes: base.bytes.subarray(0, at), config: base.config, what: `truncated to ${at} bytes`, mustReject: true };
    }
    case 'header-length': {
      const bytes = base.bytes.slice();
      const view = new DataView(bytes.buffer);
      const delta = pick([-16, -8, -3, -1, 1, 2, 7, 64, 2 ** 31]);
      view.setUint32(0, view.getUint32(0, true) + delta, true);
      return { bytes, config: base.config, what: `header length ${delta >= 0 ? '+' : ''}${delta}`, mustReject: true };
    }
    case 'header-byte': {
      const bytes = base.bytes.slice();
      const n = new DataView(bytes.buffer).getUint32(0, true);
      const at = 8 + Math.floor(r() * n);
      bytes[at] = Math.floor(r() * 256);
      return { bytes, config: base.config, what: `header byte ${at} set`, mustReject: false };
    }
    case 'data-byte': {
      const bytes = base.bytes.slice();
      const at = bytes.length - 1 - Math.floor(r() * s.data.length);
      bytes[at]! ^= 1 << Math.floor(r() * 8);
      return { bytes, config: base.config, what: `data byte ${at} bit flipped`, mustReject: false };
    }
    case 'nan': {
      // Into a tensor the loader reads (a checkpoint's import reads its EMA).
      const read = tensors.filter((n) => base.kind !== 'checkpoint' || n.startsWith('ema/'));
      const name = pick(read);
      const e = s.header[name]! as { dtype: string; data_offsets: [number, number] };
      const size = e.dtype === 'F16' ? 2 : 4;
      const count = (e.data_offsets[1] - e.data_offsets[0]) / size;
      const data = s.data.slice();
      const view = new DataView(data.buffer);
      const at = e.data_offsets[0] + Math.floor(r() * count) * size;
      if (size === 2) view.setUint16(at, pick([0x7e00, 0x7c00, 0xfc00]), true);
      else view.setUint32(at, pick([0x7fc00000, 0x7f800000, 0xff800000]), true);
      return { bytes: join({ header: s.header, data }), config: base.config, what: `non-finite value in "${name}"`, mustReject: true };
    }
    case 'entry': {
      const name = pick(tensors);
      const e = { ...s.header[name]! } as { dtype: string; shape: number[]; data_offsets: number[] };
      const how = pick(['dtype', 'shape', 'offsets']);
      if (how === 'dtype') e.dtype = pick(['X9', 'F64', e.dtype === 'F16' ? 'F32' : 'F16', 'I8']);
      else if (how === 'shape') e.shape = e.shape.length ? e.shape.map((d, i) => (i === 0 ? d + 1 : d)) : [2];
      else e.data_offsets = e.data_offsets.map((o) => o + pick([-4, 4, 2, 1e12]));
      return { bytes: join({ header: { ...s.header, [name]: e }, data: s.data }), config: base.config, what: `tensor "${name}" ${how} changed`, mustReject: true };
    }
    case 'prototype': {
      // Strings that name Object.prototype's members, where the file supplies a string that is looked up.
      const word = pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']);
      const where = pick(base.kind === 'diffusers' ? ['dtype', 'tensor name', 'metadata key'] : ['dtype', 'metadata key']);
      if (where === 'metadata key') {
        // An extra metadata entry is harmless: the file stays valid.
        const md = (s.header.__metadata__ ?? {}) as Record<string, string>;
        return { bytes: join({ header: { ...s.header, __metadata__: { ...md, [word]: 'x' } }, data: s.data }), config: base.config, what: `__metadata__ key ${word}`, mustReject: false };
      }
      const name = pick(tensors);
      if (where === 'dtype') {
        return { bytes: join({ header: { ...s.header, [name]: { ...s.header[name]!, dtype: word } }, data: s.data }), config: base.config, what: `tensor "${name}" dtype ${word}`, mustReject: true };
      }
      const part = name.replace(/\.(\w+)\.(weight|bias)$/, `.${word}.$2`);
      const renamed = part !== name ? part : name.replace(/^(\w+)\./, `${word}.`);
      const { [name]: entry, ...rest } = s.header;
      return { bytes: join({ header: { ...rest, [renamed]: entry! }, data: s.data }), config: base.config, what: `tensor "${name}" renamed "${renamed}"`, mustReject: true };
    }
    case 'config': {
      const key = pick(Object.keys(DIFFUSERS_HOSTILE));
      const value = pick(DIFFUSERS_HOSTILE[key]!);
      return { bytes: base.bytes, config: { ...base.config, [key]: value }, what: `config.json ${key} = ${JSON.stringify(value)}`, mustReject: true };
    }
    case 'meta-whole': {
      const md = s.header.__metadata__ as Record<string, string>;
      const key = pick(['model', 'diffusion']);
      const value = pick(WHOLE);
      return { bytes: join({ header: { ...s.header, __metadata__: { ...md, [key]: value } }, data: s.data }), what: `__metadata__.${key} = ${value}`, mustReject: true };
    }
    default: {
      const md = s.header.__metadata__ as Record<string, string>;
      const entry = pick(['model', 'diffusion'] as const);
      const obj = JSON.parse(md[entry]!) as Record<string, unknown>;
      const keys = Object.keys(HOSTILE).filter((k) => k in obj);
      const key = pick(keys);
      const value = pick(HOSTILE[key]!);
      const mutated = { ...md, [entry]: JSON.stringify({ ...obj, [key]: value }) };
      return { bytes: join({ header: { ...s.header, __metadata__: mutated }, data: s.data }), what: `${entry}.${key} = ${JSON.stringify(value)?.slice(0, 40)}`, mustReject: true };
    }
  }
}

describe('model files under fuzzing', () => {
  it('every base file loads', () => {
    for (const b of BASES) expect(load(b.bytes, `${b.kind}.safetensors`, b.config).length).toBeGreaterThan(0);
  });

  it(`${MUTATIONS} seeded mutations end in a clean error naming the file, or a valid model`, () => {
    const r = rng(20261202);
    const problems: string[] = [];
    let clean = 0, accepted = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const base = BASES[i % BASES.length]!;
      const m = mutate(base, r);
      const source = `fuzz${i}.safetensors`;
      const t0 = performance.now();
      let error: unknown;
      let weights: HostTensor[] = [];
      try {
        weights = load(m.bytes, source, m.config);
      } catch (e) {
        error = e;
      }
      const ms = performance.now() - t0;
      const tag = `${base.kind} #${i} (${m.what})`;
      if (ms > SLOW_MS) problems.push(`${tag}: took ${ms.toFixed(0)} ms`);
      if (error === undefined) {
        accepted++;
        if (m.mustReject) problems.push(`${tag}: accepted an invalid file`);
        const bad = weights.find((w) => !w.data.every(Number.isFinite));
        if (bad) problems.push(`${tag}: accepted non-finite weights`);
      } else if (!(error instanceof Error) || error.constructor !== Error) {
        problems.push(`${tag}: raw ${error instanceof Error ? error.constructor.name : typeof error}: ${String(error)}`);
      } else if (!error.message.startsWith(`${source}`)) {
        problems.push(`${tag}: message does not name the file: ${error.message.slice(0, 160)}`);
      } else {
        clean++;
      }
    }
    console.log(`fuzz: ${MUTATIONS} mutated files: ${clean} clean errors, ${accepted} accepted as valid models, ${problems.length} problems`);
    expect(problems.slice(0, 20)).toEqual([]);
  }, 120_000);
});
