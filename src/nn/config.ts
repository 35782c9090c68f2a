// The UNet configuration of Ho et al. / Song et al. (the ermongroup/ddim `Model`), with the
// fields and defaults of the reference files' `__metadata__.model`.
import { metadataJson } from '../io/metadata';

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
  /** GroupNorm groups: "32" (the reference) or "auto" (16, else 8, else one channel per group). */
  norm_groups: '32' | 'auto';
}

const DEFAULTS = { dropout: 0, resamp_with_conv: true, use_time_embed: true, norm_groups: '32' as const, in_channels: 3, out_ch: 3 };

/** The CIFAR-10 model of the DDPM paper (35,746,307 parameters). */
export const CIFAR10_CONFIG: UNetConfig = {
  ch: 128, out_ch: 3, ch_mult: [1, 2, 2, 2], num_res_blocks: 2, attn_resolutions: [16], dropout: 0.1,
  in_channels: 3, resolution: 32, resamp_with_conv: true, use_time_embed: true, norm_groups: '32',
};

function positiveInt(v: unknown, field: string, source: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`${source}: model config field "${field}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function intList(v: unknown, field: string, source: string, allowEmpty: boolean): number[] {
  if (!Array.isArray(v) || (!allowEmpty && v.length === 0)) {
    throw new Error(`${source}: model config field "${field}" must be a list of positive integers, got ${JSON.stringify(v)}`);
  }
  return v.map((x, i) => positiveInt(x, `${field}[${i}]`, source));
}

/** Validates a config object (e.g. parsed from `__metadata__.model`), filling the documented defaults. */
export function parseConfig(raw: unknown, source = 'model config'): UNetConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${source}: model config must be a JSON object`);
  const o: Record<string, unknown> = { ...DEFAULTS, ...(raw as Record<string, unknown>) };
  const cfg: UNetConfig = {
    ch: positiveInt(o.ch, 'ch', source),
    out_ch: positiveInt(o.out_ch, 'out_ch', source),
    ch_mult: intList(o.ch_mult, 'ch_mult', source, false),
    num_res_blocks: positiveInt(o.num_res_blocks, 'num_res_blocks', source),
    attn_resolutions: intList(o.attn_resolutions, 'attn_resolutions', source, true),
    dropout: Number(o.dropout),
    in_channels: positiveInt(o.in_channels, 'in_channels', source),
    resolution: positiveInt(o.resolution, 'resolution', source),
    resamp_with_conv: Boolean(o.resamp_with_conv),
    use_time_embed: Boolean(o.use_time_embed),
    norm_groups: String(o.norm_groups) === 'auto' ? 'auto' : '32',
  };
  if (String(o.norm_groups) !== '32' && String(o.norm_groups) !== 'auto') {
    throw new Error(`${source}: model config field "norm_groups" must be "32" or "auto", got ${JSON.stringify(o.norm_groups)}`);
  }
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new Error(`${source}: dropout must be in [0, 1), got ${o.dropout}`);
  const levels = cfg.ch_mult.length;
  if (cfg.resolution % 2 ** (levels - 1) !== 0) {
    throw new Error(`${source}: resolution ${cfg.resolution} is not divisible by 2^${levels - 1} (ch_mult has ${levels} levels)`);
  }
  return cfg;
}

/** Parses `__metadata__.model` of a safetensors file. */
export function configFromMetadata(metadata: Record<string, string>, source: string): UNetConfig {
  const raw = metadataJson(metadata, 'model', source);
  if (raw === undefined) throw new Error(`${source}: no model config in __metadata__ (expected a "model" entry)`);
  return parseConfig(raw, source);
}
