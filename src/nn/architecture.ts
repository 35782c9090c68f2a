// The UNet's module tree derived from a config, and its parameters in the reference state_dict
// order (names and shapes exactly as PyTorch's `Model.state_dict()`), so checkpoints move both ways.
import type { UNetConfig } from './config';

export interface ResBlockSpec {
  name: string;      // "down.0.block.1"
  cin: number;
  cout: number;
  res: number;       // spatial size it runs at
}

export interface LevelSpec {
  blocks: ResBlockSpec[];
  /** Attention after each block (null where the level's resolution is not in attn_resolutions). */
  attn: (string | null)[];
  /** "down.0.downsample" / "up.1.upsample", or null on the last level down / first level up. */
  resample: string | null;
}

export interface Architecture {
  down: LevelSpec[];
  mid: { block1: ResBlockSpec; attn: string; block2: ResBlockSpec };
  /** In execution order (deepest level first); names keep the reference's up.{i_level}. */
  up: LevelSpec[];
  tembChannels: number;   // 4 * ch, or 0 without time embedding
}

export function architecture(cfg: UNetConfig): Architecture {
  const levels = cfg.ch_mult.length;
  const inMult = [1, ...cfg.ch_mult];
  const tembChannels = cfg.use_time_embed ? cfg.ch * 4 : 0;
  const down: LevelSpec[] = [];
  // Channels of every skip tensor pushed on the way down (conv_in first), popped on the way up.
  const skips = [cfg.ch];
  let res = cfg.resolution;
  let blockIn = cfg.ch;
  for (let i = 0; i < levels; i++) {
    const level: LevelSpec = { blocks: [], attn: [], resample: null };
    blockIn = cfg.ch * inMult[i]!;
    const blockOut = cfg.ch * cfg.ch_mult[i]!;
    for (let j = 0; j < cfg.num_res_blocks; j++) {
      level.blocks.push({ name: `down.${i}.block.${j}`, cin: blockIn, cout: blockOut, res });
      blockIn = blockOut;
      level.attn.push(cfg.attn_resolutions.includes(res) ? `down.${i}.attn.${j}` : null);
      skips.push(blockIn);
    }
    if (i !== levels - 1) {
      level.resample = `down.${i}.downsample`;
      skips.push(blockIn);
      res /= 2;
    }
    down.push(level);
  }
  const mid = {
    block1: { name: 'mid.block_1', cin: blockIn, cout: blockIn, res },
    attn: 'mid.attn_1',
    block2: { name: 'mid.block_2', cin: blockIn, cout: blockIn, res },
  };
  const up: LevelSpec[] = [];
  for (let i = levels - 1; i >= 0; i--) {
    const level: LevelSpec = { blocks: [], attn: [], resample: null };
    const blockOut = cfg.ch * cfg.ch_mult[i]!;
    for (let j = 0; j <= cfg.num_res_blocks; j++) {
      const skip = skips.pop()!;
      level.blocks.push({ name: `up.${i}.block.${j}`, cin: blockIn + skip, cout: blockOut, res });
      blockIn = blockOut;
      level.attn.push(cfg.attn_resolutions.includes(res) ? `up.${i}.attn.${j}` : null);
    }
    if (i !== 0) {
      level.resample = `up.${i}.upsample`;
      res *= 2;
    }
    up.push(level);
  }
  return { down, mid, up, tembChannels };
}

export interface ParamSpec {
  name: string;
  shape: number[];
}

function norm(name: string, c: number): ParamSpec[] {
  return [{ name: `${name}.weight`, shape: [c] }, { name: `${name}.bias`, shape: [c] }];
}

function conv(name: string, cout: number, cin: number, k: number): ParamSpec[] {
  return [{ name: `${name}.weight`, shape: [cout, cin, k, k] }, { name: `${name}.bias`, shape: [cout] }];
}

function linear(name: string, out: number, inp: number): ParamSpec[] {
  return [{ name: `${name}.weight`, shape: [out, inp] }, { name: `${name}.bias`, shape: [out] }];
}

function resBlockParams(b: ResBlockSpec, temb: number): ParamSpec[] {
  return [
    ...norm(`${b.name}.norm1`, b.cin),
    ...conv(`${b.name}.conv1`, b.cout, b.cin, 3),
    ...(temb ? linear(`${b.name}.temb_proj`, b.cout, temb) : []),
    ...norm(`${b.name}.norm2`, b.cout),
    ...conv(`${b.name}.conv2`, b.cout, b.cout, 3),
    ...(b.cin !== b.cout ? conv(`${b.name}.nin_shortcut`, b.cout, b.cin, 1) : []),
  ];
}

function attnParams(name: string, c: number): ParamSpec[] {
  return [...norm(`${name}.norm`, c), ...['q', 'k', 'v', 'proj_out'].flatMap((p) => conv(`${name}.${p}`, c, c, 1))];
}

function levelParams(level: LevelSpec, temb: number, withConv: boolean): ParamSpec[] {
  const c = level.blocks[level.blocks.length - 1]!.cout;
  return [
    ...level.blocks.flatMap((b) => resBlockParams(b, temb)),
    ...level.attn.flatMap((a) => (a ? attnParams(a, c) : [])),
    ...(level.resample && withConv ? conv(`${level.resample}.conv`, c, c, 3) : []),
  ];
}

/** Every parameter in state_dict order. */
export function parameterSpecs(cfg: UNetConfig): ParamSpec[] {
  const a = architecture(cfg);
  const t = a.tembChannels;
  const up = [...a.up].reverse(); // state_dict lists up.0 first
  return [
    ...(t ? [...linear('temb.dense.0', t, cfg.ch), ...linear('temb.dense.1', t, t)] : []),
    ...conv('conv_in', cfg.ch, cfg.in_channels, 3),
    ...a.down.flatMap((l) => levelParams(l, t, cfg.resamp_with_conv)),
    ...resBlockParams(a.mid.block1, t),
    ...attnParams(a.mid.attn, a.mid.block1.cout),
    ...resBlockParams(a.mid.block2, t),
    ...up.flatMap((l) => levelParams(l, t, cfg.resamp_with_conv)),
    ...norm('norm_out', cfg.ch * cfg.ch_mult[0]!),
    ...conv('conv_out', cfg.out_ch, cfg.ch * cfg.ch_mult[0]!, 3),
  ];
}

export function parameterCount(cfg: UNetConfig): number {
  return parameterSpecs(cfg).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** Every GroupNorm of the model, by name, with the channels it normalizes (state_dict order). */
export function normalizedWidths(cfg: UNetConfig): { where: string; channels: number }[] {
  return parameterSpecs(cfg).filter((s) => /(^|\.)norm(1|2|_out)?\.weight$/.test(s.name)).map((s) => ({ where: s.name.slice(0, -'.weight'.length), channels: s.shape[0]! }));
}
