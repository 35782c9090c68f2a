// Model files in either layout -> the reference layout (ermongroup/ddim state_dict names, config in
// __metadata__), checked tensor by tensor against the architecture. Two layouts are read:
//   reference  `down.0.block.1.conv1.weight`, ... with `__metadata__.model` (or a config given with it);
//   diffusers  `UNet2DModel` (google/ddpm-cifar10-32): `down_blocks.0.resnets.1.conv1.weight`, ... with
//              the config from a diffusers config.json, or inferred from the tensor shapes.
import { parameterSpecs } from '../nn/architecture';
import { configFromMetadata, parseConfig, type UNetConfig } from '../nn/config';
import { DEFAULT_DIFFUSION, diffusionFromMetadata, type DiffusionConfig } from '../diffusion/schedule';
import { FILE_FORMATS, metadataJson } from '../host/metadata';
import { expectFinite, type HostTensor, type SafetensorsFile } from '../host/tensor';
import { own } from '../host/own';

export type ModelLayout = 'reference' | 'diffusers';

export interface ReferenceModel {
  layout: ModelLayout;
  config: UNetConfig;
  diffusion: DiffusionConfig;
  /** Every parameter in state_dict order, reference names and shapes. */
  tensors: Map<string, HostTensor>;
  /** __metadata__ for the reference-layout file: format, model, diffusion. */
  metadata: Record<string, string>;
}

/** A training checkpoint keeps the weights to sample with under ema/ (see train/trainer.ts). */
function weightPrefix(file: SafetensorsFile): string {
  return file.metadata.format === FILE_FORMATS.checkpoint ? 'ema/' : '';
}

export function detectLayout(file: SafetensorsFile, source: string): ModelLayout {
  const names = [...file.tensors.keys()];
  const prefix = weightPrefix(file);
  if (names.some((n) => n === `${prefix}conv_in.weight`) && names.some((n) => n.startsWith(`${prefix}down.`))) return 'reference';
  if (names.includes('conv_in.weight') && names.some((n) => n.startsWith('down_blocks.'))) return 'diffusers';
  const sample = names.slice(0, 3).map((n) => `"${n}"`).join(', ');
  throw new Error(`${source}: not a UNet in the reference or diffusers layout (no conv_in.weight with down.* or down_blocks.* tensors; first tensors: ${sample || 'none'})`);
}

// ---- diffusers UNet2DModel names ----------------------------------------------------------------

const RESNET_PARTS: Record<string, string> = {
  norm1: 'norm1', conv1: 'conv1', time_emb_proj: 'temb_proj', norm2: 'norm2', conv2: 'conv2', conv_shortcut: 'nin_shortcut',
};
const ATTN_PARTS: Record<string, string> = {
  group_norm: 'norm', query: 'q', key: 'k', value: 'v', proj_attn: 'proj_out', to_q: 'q', to_k: 'k', to_v: 'v', 'to_out.0': 'proj_out',
};

/** The reference name of a diffusers tensor name, for a model with `levels` resolution levels (undefined if unknown). */
export function referenceName(name: string, levels: number): string | undefined {
  const simple: Record<string, string> = {
    'time_embedding.linear_1': 'temb.dense.0', 'time_embedding.linear_2': 'temb.dense.1',
    conv_in: 'conv_in', conv_norm_out: 'norm_out', conv_out: 'conv_out',
  };
  const m = /^(.*)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const [, path, kind] = m as unknown as [string, string, string];
  const top = own(simple, path);
  if (top) return `${top}.${kind}`;
  let r: RegExpExecArray | null;
  let part: string | undefined;
  if ((r = /^(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)$/.exec(path)) && (part = own(RESNET_PARTS, r[4]!))) {
    return `${r[1]}.${level(r[1]!, r[2]!, levels)}.block.${r[3]}.${part}.${kind}`;
  }
  if ((r = /^(down|up)_blocks\.(\d+)\.attentions\.(\d+)\.([\w.]+)$/.exec(path)) && (part = own(ATTN_PARTS, r[4]!))) {
    return `${r[1]}.${level(r[1]!, r[2]!, levels)}.attn.${r[3]}.${part}.${kind}`;
  }
  if ((r = /^down_blocks\.(\d+)\.downsamplers\.0\.conv$/.exec(path))) return `down.${r[1]}.downsample.conv.${kind}`;
  if ((r = /^up_blocks\.(\d+)\.upsamplers\.0\.conv$/.exec(path))) return `up.${level('up', r[1]!, levels)}.upsample.conv.${kind}`;
  if ((r = /^mid_block\.resnets\.([01])\.(\w+)$/.exec(path)) && (part = own(RESNET_PARTS, r[2]!))) return `mid.block_${Number(r[1]) + 1}.${part}.${kind}`;
  if ((r = /^mid_block\.attentions\.0\.([\w.]+)$/.exec(path)) && (part = own(ATTN_PARTS, r[1]!))) return `mid.attn_1.${part}.${kind}`;
  return undefined;
}

/** diffusers numbers up blocks from the lowest resolution; the reference's up.{i} is at resolution level i. */
function level(dir: string, index: string, levels: number): number {
  return dir === 'up' ? levels - 1 - Number(index) : Number(index);
}

function countBlocks(names: readonly string[], pattern: RegExp): number {
  const seen = new Set<string>();
  for (const n of names) {
    const m = pattern.exec(n);
    if (m) seen.add(m[1]!);
  }
  return seen.size;
}

/**
 * The UNet config of a diffusers model: from its config.json (block_out_channels, layers_per_block,
 * down_block_types, sample_size, ...) where given, else from the tensor shapes (the resolution,
 * which weights do not fix, is then sample_size or 32, the size of google/ddpm-cifar10-32).
 */
export function diffusersConfig(file: SafetensorsFile, source: string, json?: Record<string, unknown>): UNetConfig {
  const names = [...file.tensors.keys()];
  const shape = (n: string): readonly number[] => {
    const t = file.tensors.get(n);
    if (!t) throw new Error(`${source}: missing tensor "${n}" (diffusers layout)`);
    return t.shape;
  };
  if (json) {
    if (json.flip_sin_to_cos === true) throw new Error(`${source}: config flip_sin_to_cos=true is not the DDPM time embedding (sin first); not supported`);
    if (json.freq_shift !== undefined && json.freq_shift !== 1) throw new Error(`${source}: config freq_shift=${String(json.freq_shift)} is not the DDPM time embedding (freq_shift 1); not supported`);
    if (json.norm_num_groups !== undefined && json.norm_num_groups !== 32) throw new Error(`${source}: config norm_num_groups=${String(json.norm_num_groups)}; only 32 groups are supported`);
  }
  const levels = countBlocks(names, /^down_blocks\.(\d+)\./);
  const ch = shape('conv_in.weight')[0]!;
  const blockOut = Array.isArray(json?.block_out_channels)
    ? (json!.block_out_channels as number[])
    : Array.from({ length: levels }, (_, i) => shape(`down_blocks.${i}.resnets.0.conv1.weight`)[0]!);
  if (blockOut.length !== levels) throw new Error(`${source}: config has ${blockOut.length} block_out_channels, the file has ${levels} down blocks`);
  const resolution = typeof json?.sample_size === 'number' ? json.sample_size : 32;
  for (const key of ['sample_size', 'in_channels', 'out_channels', 'layers_per_block', 'dropout'] as const) {
    if (json?.[key] !== undefined && typeof json[key] !== 'number') {
      throw new Error(`${source}: config ${key} must be a number, got ${JSON.stringify(json[key])}`);
    }
  }
  for (const key of ['block_out_channels', 'down_block_types'] as const) {
    if (json?.[key] !== undefined && !Array.isArray(json[key])) throw new Error(`${source}: config ${key} must be a list, got ${JSON.stringify(json[key])}`);
  }
  if (Array.isArray(json?.down_block_types) && !json!.down_block_types.every((t) => typeof t === 'string')) {
    throw new Error(`${source}: config down_block_types must be a list of block names (strings), got ${JSON.stringify(json!.down_block_types)}`);
  }
  if (Array.isArray(json?.block_out_channels) && !json!.block_out_channels.every((c) => typeof c === 'number' && Number.isInteger(c) && c > 0)) {
    throw new Error(`${source}: config block_out_channels must be a list of positive integers, got ${JSON.stringify(json!.block_out_channels)}`);
  }
  const attnLevels = Array.isArray(json?.down_block_types)
    ? (json!.down_block_types as string[]).flatMap((t, i) => (t.startsWith('Attn') ? [i] : []))
    : Array.from({ length: levels }, (_, i) => i).filter((i) => names.some((n) => n.startsWith(`down_blocks.${i}.attentions.`)));
  return parseConfig({
    ch,
    out_ch: typeof json?.out_channels === 'number' ? json.out_channels : shape('conv_out.weight')[0],
    ch_mult: blockOut.map((c, i) => {
      if (c % ch !== 0) throw new Error(`${source}: block_out_channels[${i}] = ${c} is not a multiple of ch = ${ch}`);
      return c / ch;
    }),
    num_res_blocks: typeof json?.layers_per_block === 'number' ? json.layers_per_block : countBlocks(names, /^down_blocks\.0\.resnets\.(\d+)\./),
    attn_resolutions: attnLevels.map((i) => resolution / 2 ** i),
    dropout: typeof json?.dropout === 'number' ? json.dropout : 0,
    in_channels: typeof json?.in_channels === 'number' ? json.in_channels : shape('conv_in.weight')[1],
    resolution,
    resamp_with_conv: names.some((n) => /^down_blocks\.\d+\.downsamplers\.0\.conv\.weight$/.test(n)),
  }, source);
}

// ---- conversion ---------------------------------------------------------------------------------

/**
 * Reads a model file in either layout into the reference layout, validating every tensor: none
 * missing, none unexpected, every shape as the architecture says. `configJson` (a config.json
 * chosen with the file) overrides __metadata__ / inference.
 */
export function toReferenceLayout(file: SafetensorsFile, source: string, configJson?: unknown): ReferenceModel {
  const layout = detectLayout(file, source);
  const json = configJson === undefined ? undefined : (configJson as Record<string, unknown>);
  if (json !== undefined && (typeof json !== 'object' || json === null || Array.isArray(json))) throw new Error(`${source}: the config must be a JSON object`);
  let config: UNetConfig;
  let renamed: Map<string, HostTensor>;
  if (layout === 'reference') {
    config = json ? parseConfig(json, `${source} (config)`) : configFromMetadata(file.metadata, source);
    const prefix = weightPrefix(file);
    renamed = new Map([...file.tensors].flatMap(([n, t]) => (n.startsWith(prefix) ? [[n.slice(prefix.length), t] as const] : [])));
  } else {
    config = json && 'ch' in json ? parseConfig(json, `${source} (config)`) : diffusersConfig(file, source, json);
    renamed = new Map();
    for (const [n, t] of file.tensors) {
      const ref = referenceName(n, config.ch_mult.length);
      if (!ref) throw new Error(`${source}: unexpected tensor "${n}" for a diffusers UNet2DModel`);
      renamed.set(ref, t);
    }
  }
  const tensors = new Map<string, HostTensor>();
  for (const spec of parameterSpecs(config)) {
    const t = renamed.get(spec.name);
    if (!t) throw new Error(`${source}: missing tensor "${spec.name}" for ${describe(config)}`);
    // diffusers keeps attention projections as linear [C, C]; the reference has 1x1 convs [C, C, 1, 1].
    const want = spec.shape.join(',');
    const fits = t.shape.join(',') === want || (t.shape.length === 2 && `${t.shape.join(',')},1,1` === want);
    if (!fits) throw new Error(`${source}: tensor "${spec.name}" has shape [${t.shape}], expected [${spec.shape}] for ${describe(config)}`);
    expectFinite(t, spec.name, source);
    tensors.set(spec.name, { shape: [...spec.shape], data: t.data });
    renamed.delete(spec.name);
  }
  const extra = [...renamed.keys()];
  if (extra.length) throw new Error(`${source}: unexpected tensor "${extra[0]}"${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''} for ${describe(config)}`);
  const diffusion = layout === 'reference' && metadataJson(file.metadata, 'diffusion', source) !== undefined
    ? diffusionFromMetadata(file.metadata, source)
    : DEFAULT_DIFFUSION;
  return {
    layout, config, diffusion, tensors,
    metadata: { format: FILE_FORMATS.unet, model: JSON.stringify(config), diffusion: JSON.stringify(diffusion) },
  };
}

/** The model as a reference-layout weights file (what a UNet's parameters load). */
export function weightsFile(model: ReferenceModel): SafetensorsFile {
  return { tensors: model.tensors, metadata: model.metadata, dtypes: new Map() };
}

function describe(c: UNetConfig): string {
  return `the config ch=${c.ch}, ch_mult=[${c.ch_mult}], num_res_blocks=${c.num_res_blocks}, attn_resolutions=[${c.attn_resolutions}], resolution=${c.resolution}`;
}
