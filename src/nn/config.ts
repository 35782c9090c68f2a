// The UNet configuration of Ho et al. / Song et al. (the ermongroup/ddim `Model`), with the
// fields and defaults of the reference files' `__metadata__.model`.
import { metadataJson } from '../host/metadata';
import { normalizedWidths, parameterCount } from './architecture';

export interface UNetConfig {
  /** Base width: level i has ch * ch_mult[i] channels. */
  ch: number;
  /** Output channels (eps has the image's channels). */
  out_ch: number;
  /** Width multiplier per resolution level; the image is halved between levels. */
  ch_mult: number[];
  /** ResBlocks per level on the way down (the way up has one more per level). */
  num_res_blocks: number;
  /** Resolutions (in pixels) whose blocks are followed by self-attention. */
  attn_resolutions: number[];
  /** Dropout probability inside ResBlocks while training. */
  dropout: number;
  in_channels: number;
  /** Square image size; must be divisible by 2^(levels-1). */
  resolution: number;
  /** Downsample with a stride-2 conv and upsample with a conv after nearest 2x (else avg pool / no conv). */
  resamp_with_conv: boolean;
  /** false: the time-free per-step model of the research variant (no temb.* or temb_proj weights). */
  use_time_embed: boolean;
  /** GroupNorm groups: a number that divides every width (32, the reference's), or "auto" (16, else 8, else one channel per group). */
  norm_groups: number | 'auto';
}

const DEFAULTS = { dropout: 0, resamp_with_conv: true, use_time_embed: true, norm_groups: 32, in_channels: 3, out_ch: 3 };

/** The CIFAR-10 model of the DDPM paper (35,746,307 parameters). */
export const CIFAR10_CONFIG: UNetConfig = {
  ch: 128, out_ch: 3, ch_mult: [1, 2, 2, 2], num_res_blocks: 2, attn_resolutions: [16], dropout: 0.1,
  in_channels: 3, resolution: 32, resamp_with_conv: true, use_time_embed: true, norm_groups: 32,
};

/**
 * Bounds of every size field, checked before anything is expanded or allocated: far above the models
 * a browser tab trains or samples (the DDPM CIFAR-10 and CelebA-HQ 256 px models fit), low enough
 * that a hostile file cannot make the planner loop or allocate for minutes.
 */
export const CONFIG_LIMITS = {
  ch: 1024, channels: 4096, ch_mult: 16, levels: 8, num_res_blocks: 16, resolution: 1024, image_channels: 4, attn_resolutions: 8,
  parameters: 2 ** 28,
} as const;

function positiveInt(v: unknown, field: string, source: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`${source}: model config field "${field}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (v > max) throw new Error(`${source}: model config field "${field}" is ${v}, over the limit of ${max}`);
  return v;
}

function intList(v: unknown, field: string, source: string, allowEmpty: boolean, maxLength: number, maxValue: number): number[] {
  if (!Array.isArray(v) || (!allowEmpty && v.length === 0)) {
    throw new Error(`${source}: model config field "${field}" must be a list of positive integers, got ${JSON.stringify(v)}`);
  }
  if (v.length > maxLength) throw new Error(`${source}: model config field "${field}" has ${v.length} entries, over the limit of ${maxLength}`);
  return v.map((x, i) => positiveInt(x, `${field}[${i}]`, source, maxValue));
}

function bool(v: unknown, field: string, source: string): boolean {
  if (typeof v !== 'boolean') throw new Error(`${source}: model config field "${field}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** "auto", or a group count given as a positive integer or a string of one ("32", as older files write it). */
function parseNormGroups(v: unknown, source: string): number | 'auto' {
  if (v === 'auto') return 'auto';
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > CONFIG_LIMITS.channels) {
    throw new Error(`${source}: model config field "norm_groups" must be "auto" or a positive integer (a number or a string of digits), got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Every GroupNorm of the model must split its channels into whole groups: checked at load, with the first width that does not. */
function checkNormGroups(cfg: UNetConfig, source: string): void {
  const groups = cfg.norm_groups;
  if (groups === 'auto') return;
  const bad = normalizedWidths(cfg).find(({ channels }) => channels % groups !== 0);
  if (bad) {
    throw new Error(`${source}: model config field "norm_groups" is ${groups}, which does not divide the ${bad.channels} channels of ${bad.where} (GroupNorm needs whole groups); use "auto" or a group count that divides every width`);
  }
}

/** Validates a config object (e.g. parsed from `__metadata__.model`), filling the documented defaults. */
export function parseConfig(raw: unknown, source = 'model config'): UNetConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${source}: model config must be a JSON object`);
  const o: Record<string, unknown> = { ...DEFAULTS, ...(raw as Record<string, unknown>) };
  const L = CONFIG_LIMITS;
  const normGroupsField = parseNormGroups(o.norm_groups, source);
  if (typeof o.dropout !== 'number' || !(o.dropout >= 0 && o.dropout < 1)) {
    throw new Error(`${source}: model config field "dropout" must be a number in [0, 1), got ${JSON.stringify(o.dropout)}`);
  }
  const cfg: UNetConfig = {
    ch: positiveInt(o.ch, 'ch', source, L.ch),
    out_ch: positiveInt(o.out_ch, 'out_ch', source, L.image_channels),
    ch_mult: intList(o.ch_mult, 'ch_mult', source, false, L.levels, L.ch_mult),
    num_res_blocks: positiveInt(o.num_res_blocks, 'num_res_blocks', source, L.num_res_blocks),
    attn_resolutions: intList(o.attn_resolutions, 'attn_resolutions', source, true, L.attn_resolutions, L.resolution),
    dropout: o.dropout,
    in_channels: positiveInt(o.in_channels, 'in_channels', source, L.image_channels),
    resolution: positiveInt(o.resolution, 'resolution', source, L.resolution),
    resamp_with_conv: bool(o.resamp_with_conv, 'resamp_with_conv', source),
    use_time_embed: bool(o.use_time_embed, 'use_time_embed', source),
    norm_groups: normGroupsField,
  };
  const widest = cfg.ch * Math.max(...cfg.ch_mult);
  if (widest > L.channels) throw new Error(`${source}: ch * max(ch_mult) = ${widest} channels, over the limit of ${L.channels}`);
  const levels = cfg.ch_mult.length;
  if (cfg.resolution % 2 ** (levels - 1) !== 0) {
    throw new Error(`${source}: resolution ${cfg.resolution} is not divisible by 2^${levels - 1} (ch_mult has ${levels} levels)`);
  }
  checkNormGroups(cfg, source);
  const parameters = parameterCount(cfg);
  if (parameters > L.parameters) {
    throw new Error(`${source}: the model config has ${parameters.toLocaleString('en-US')} parameters, over the limit of ${L.parameters.toLocaleString('en-US')} (1 GiB of f32 weights)`);
  }
  return cfg;
}

/** Parses `__metadata__.model` of a safetensors file. */
export function configFromMetadata(metadata: Record<string, string>, source: string): UNetConfig {
  const raw = metadataJson(metadata, 'model', source);
  if (raw === undefined) throw new Error(`${source}: no model config in __metadata__ (expected a "model" entry)`);
  return parseConfig(raw, source);
}

/** The image sizes of a UNet's levels, largest first: 32, 16, 8 for a 32 px model with three. */
export function levelResolutions(c: UNetConfig): number[] {
  return c.ch_mult.map((_, i) => c.resolution / 2 ** i);
}

/** The entries of attn_resolutions that some level has: attention runs only where the image is that
 *  size, so an 8 px entry does nothing in a 32 px model whose levels are 32 and 16 px. */
export function attentionResolutions(c: UNetConfig): number[] {
  const levels = levelResolutions(c);
  return c.attn_resolutions.filter((r) => levels.includes(r));
}

/** A UNet's structure in words, as the Models tab lists it and the Train tab's cost line names it:
 *  "ch 32, ch_mult [1, 2, 2] · 1 res block · attention at [8] px · 16 px". */
export function describeConfig(c: UNetConfig): string {
  const applied = attentionResolutions(c);
  // The middle block always attends; attn_resolutions adds attention at the levels of those sizes.
  const attention = applied.length ? `attention at [${applied.join(', ')}] px` : 'attention in the middle block only';
  return `ch ${c.ch}, ch_mult [${c.ch_mult.join(', ')}] · ${c.num_res_blocks} res block${c.num_res_blocks === 1 ? '' : 's'} · ${attention} · ${c.resolution} px`;
}
