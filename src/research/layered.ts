// The research variant of the seed repository (HGGshiwo/ddim, models/model.py): one time-free UNet
// per DDIM step. seq = range(0, T, T // num_block); sub-model `models.<t>.*` for every t in seq (the
// one at t = 0 is never run). One step of the chain from t_i to the next smaller t_j:
//   x_j = sqrt(abar_j / abar_i) x_i + (sqrt(1 - abar_j) - sqrt(1 - abar_i) sqrt(abar_j / abar_i)) eps_i(x_i)
// (DDIM with eta 0, each step with its own network), from pure noise at the largest t down to t = 0.
//
// File format (`__metadata__.format` = "ddim-layered", as ../shared/reference/layered4.safetensors):
// `model` (fields shared by all sub-models), `ch_num` (each sub-model's `ch`, in seq order), optional
// `ch_mult_num` (each sub-model's `ch_mult`), `diffusion` (with `num_block`) and `seq`. The per-step
// lists are plain lists or the seed's run-length form [{"value": 32, "num": 50}, ...].
import { timestepSequence } from '../diffusion/timesteps';
import { alphaBars, betaSchedule, diffusionFromMetadata, type DiffusionConfig } from '../diffusion/schedule';
import { ddimUpdate } from '../diffusion/samplers';
import { FILE_FORMATS, metadataJson } from '../host/metadata';
import type { SafetensorsFile } from '../host/tensor';
import { parseConfig, type UNetConfig } from '../nn/config';

/** Most DDIM steps (sub-models) a layered model may have: each is a UNet of its own. */
export const MAX_NUM_BLOCK = 1000;

export interface LayeredModel {
  /** Timesteps with a sub-model, ascending (seq[0] = 0). */
  seq: number[];
  /** Each sub-model's config, by t. */
  configs: Map<number, UNetConfig>;
  diffusion: DiffusionConfig;
  numBlock: number;
  /** abar_t = prod_{s <= t} (1 - beta_s). */
  abar: Float64Array;
}

/** Expands a per-step list given plainly or run-length encoded ([{value, num}]) to `n` entries. */
export function expandPerStep<T>(raw: unknown, n: number, what: string): T[] {
  if (!Array.isArray(raw)) throw new Error(`${what} must be a list, got ${JSON.stringify(raw)}`);
  const out: T[] = [];
  for (const item of raw) {
    if (item && typeof item === 'object' && !Array.isArray(item) && 'value' in item && 'num' in item) {
      const num = (item as { num: unknown }).num;
      if (!Number.isInteger(num) || (num as number) < 0) throw new Error(`${what}: "num" must be a non-negative integer, got ${JSON.stringify(num)}`);
      // Checked before expanding: a run-length of 1e9 must not be written out first.
      if (out.length + (num as number) > n) throw new Error(`${what} gives more than ${n} entries, expected one per step of seq (${n})`);
      for (let i = 0; i < (num as number); i++) out.push((item as { value: T }).value);
    } else {
      out.push(item as T);
    }
  }
  if (out.length !== n) throw new Error(`${what} gives ${out.length} entries, expected one per step of seq (${n})`);
  return out;
}

/** What describes a layered model before it has weights (an L.json, the Research tab's budget spec): its keys are its file's metadata keys. */
export interface LayeredDescription {
  /** The fields the sub-models share (a UNet config, use_time_embed false). */
  model: unknown;
  /** Each step's channel width, plainly or run-length encoded. */
  ch_num: unknown;
  ch_mult_num?: unknown;
  /** A diffusion config with num_block. */
  diffusion: unknown;
}

/** A weightless layered file of a description, for parseLayered and the trainers' initial weights. */
export function layeredFile(d: LayeredDescription): SafetensorsFile {
  const metadata: Record<string, string> = { format: FILE_FORMATS.layered };
  for (const key of ['model', 'ch_num', 'ch_mult_num', 'diffusion'] as const) if (d[key] !== undefined) metadata[key] = JSON.stringify(d[key]);
  return { tensors: new Map(), metadata, dtypes: new Map() };
}

export function parseLayered(file: SafetensorsFile, source: string): LayeredModel {
  const md = file.metadata;
  if (md.format !== FILE_FORMATS.layered) throw new Error(`${source}: not a layered model (__metadata__.format is ${JSON.stringify(md.format)}, expected "${FILE_FORMATS.layered}")`);
  const shared = metadataJson(md, 'model', source);
  if (shared === undefined || typeof shared !== 'object' || shared === null || Array.isArray(shared)) {
    throw new Error(`${source}: no model config in __metadata__ (expected a "model" entry holding a JSON object)`);
  }
  // The shared fields are checked on their own too: a per-step list overriding `ch` must not hide a
  // malformed shared config.
  parseConfig(shared, `${source} (model)`);
  const rawDiffusion = metadataJson(md, 'diffusion', source);
  if (typeof rawDiffusion !== 'object' || rawDiffusion === null || Array.isArray(rawDiffusion)) {
    throw new Error(`${source}: __metadata__.diffusion must be a JSON object with num_block, got ${JSON.stringify(rawDiffusion)}`);
  }
  const diffusion = diffusionFromMetadata(md, source);
  const T = diffusion.num_diffusion_timesteps;
  const numBlock = (rawDiffusion as { num_block?: unknown }).num_block;
  const most = Math.min(T, MAX_NUM_BLOCK);
  if (typeof numBlock !== 'number' || !Number.isInteger(numBlock) || numBlock < 2 || numBlock > most) {
    throw new Error(`${source}: diffusion.num_block must be an integer in [2, ${most}], got ${JSON.stringify(numBlock)}`);
  }
  const seq = timestepSequence('uniform', numBlock, T);
  const given = metadataJson(md, 'seq', source);
  if (given !== undefined && JSON.stringify(given) !== JSON.stringify(seq)) {
    throw new Error(`${source}: __metadata__.seq ${JSON.stringify(given)} is not range(0, ${T}, ${T} // ${numBlock}) = ${JSON.stringify(seq)}`);
  }
  const chs = expandPerStep<number>(metadataJson(md, 'ch_num', source) ?? seq.map(() => (shared as { ch: number }).ch), seq.length, `${source}: ch_num`);
  const mults = md.ch_mult_num !== undefined ? expandPerStep<number[]>(metadataJson(md, 'ch_mult_num', source), seq.length, `${source}: ch_mult_num`) : undefined;
  const configs = new Map<number, UNetConfig>();
  seq.forEach((t, i) => {
    const cfg = parseConfig({ ...(shared as object), ch: chs[i], ...(mults ? { ch_mult: mults[i] } : {}) }, `${source} (models.${t})`);
    if (cfg.use_time_embed) throw new Error(`${source}: sub-models of a layered model are time-free; model config has use_time_embed: true`);
    configs.set(t, cfg);
  });
  return { seq, configs, diffusion, numBlock, abar: alphaBars(betaSchedule(diffusion)) };
}

/** The steps of the chain, noisiest first: from t (with its sub-model) to next, and the update's coefficients. */
export function chainSteps(m: LayeredModel): { t: number; next: number; a: number; b: number }[] {
  const steps: { t: number; next: number; a: number; b: number }[] = [];
  for (let k = m.seq.length - 1; k >= 1; k--) {
    const t = m.seq[k]!, next = m.seq[k - 1]!;
    steps.push({ t, next, ...ddimUpdate(m.abar[t]!, m.abar[next]!) });
  }
  return steps;
}

/** The seed's per-step loss weights for end2end training: 1/abar_t of each step's input t, noisiest first. */
export function abarLossWeights(m: LayeredModel): number[] {
  return chainSteps(m).map((s) => 1 / m.abar[s.t]!);
}
