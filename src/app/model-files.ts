// The model files the page's import and every `ddim` command open, told apart by
// `__metadata__.format` (host/metadata.ts FILE_FORMATS), in one place:
//   ddim-checkpoint        a training checkpoint: it samples with its EMA weights
//   ddim-unet, any other   a UNet: the reference layout, or diffusers' UNet2DModel (config.json given
//                          with it, or inferred from the tensors); the tensors decide, and are checked
//   ddim-layered           a layered (research-mode) model: one time-free UNet per step
//   ddim-inversion         not a model: the x_T of images, refused with where it goes instead
import { FILE_FORMATS, metadataJson } from '../host/metadata';
import type { SafetensorsFile } from '../host/tensor';
import { toReferenceLayout, type ReferenceModel } from '../io/convert';
import { parseLayered, type LayeredModel } from '../research/layered';

export type ModelFile =
  | { kind: 'unet'; model: ReferenceModel; /** Training steps the file says it has had (0 when it does not say). */ steps: number }
  | { kind: 'layered'; file: SafetensorsFile; model: LayeredModel };

/** A config.json chosen with a model file: its text, and its name for errors. */
export interface ConfigText {
  text: string;
  name: string;
}

/** Reads any model file, validated; `config` is a diffusers config.json chosen with it. Errors name `source` (or the config). */
export function readModelFile(file: SafetensorsFile, source: string, config?: ConfigText): ModelFile {
  const json = config === undefined ? undefined : parseJson(config);
  switch (file.metadata.format) {
    case FILE_FORMATS.layered:
      if (config !== undefined) throw new Error(`${source}: a layered model carries its own config; a config.json applies to diffusers models only`);
      return { kind: 'layered', file, model: parseLayered(file, source) };
    case FILE_FORMATS.inversion:
      throw new Error(`${source}: the x_T of inverted images (ddim invert), not a model; give it to ddim sample --init`);
    default:
      return { kind: 'unet', model: toReferenceLayout(file, source, json), steps: trainedSteps(file.metadata, source) };
  }
}

/** The time-conditioned UNet of a model file; a layered file is refused, saying that `taker` needs a UNet. */
export function readUNetFile(file: SafetensorsFile, source: string, taker: string, config?: ConfigText): { model: ReferenceModel; steps: number } {
  const m = readModelFile(file, source, config);
  if (m.kind === 'layered') throw new Error(`${source}: a layered model (research mode, one UNet per step); ${taker} takes a time-conditioned UNet`);
  return m;
}

export function isLayeredFile(file: SafetensorsFile): boolean {
  return file.metadata.format === FILE_FORMATS.layered;
}

function parseJson(config: ConfigText): unknown {
  try {
    return JSON.parse(config.text);
  } catch (e) {
    throw new Error(`${config.name}: not valid JSON (${(e as Error).message})`);
  }
}

function trainedSteps(metadata: Record<string, string>, source: string): number {
  const trainer = metadataJson(metadata, 'trainer', source) as { step?: unknown } | undefined;
  const step = Number(metadata.step ?? trainer?.step ?? 0);
  return Number.isFinite(step) ? step : 0;
}
