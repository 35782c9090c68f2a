// The model files the page's import and every `ddim` command open, told apart by
// `__metadata__.format` (host/metadata.ts FILE_FORMATS), in one place:
//   ddim-unet, or none     a UNet: the reference layout, or diffusers' UNet2DModel (config.json given
//                          with it, or inferred from the tensors)
//   ddim-checkpoint        a training checkpoint: it samples with its EMA weights
//   ddim-layered           a layered (research-mode) model: one time-free UNet per step
//   ddim-inversion         not a model: the x_T of images, refused with where it goes instead
import { FILE_FORMATS } from '../host/metadata';
import type { SafetensorsFile } from '../host/tensor';
import { toReferenceLayout, type ReferenceModel } from '../io/convert';
import { parseLayered, type LayeredModel } from '../research/layered';

export type ModelFile =
  | { kind: 'unet'; model: ReferenceModel; /** Training steps the file says it has had (0 when it does not say). */ steps: number }
  | { kind: 'layered'; file: SafetensorsFile; model: LayeredModel };

/** Reads any model file, validated; `configText` is a diffusers config.json chosen with it. Errors name `source`. */
export function readModelFile(file: SafetensorsFile, source: string, configText?: string): ModelFile {
  switch (file.metadata.format) {
    case FILE_FORMATS.layered:
      if (configText !== undefined) throw new Error(`${source}: a layered model carries its own config; a config.json applies to diffusers models only`);
      return { kind: 'layered', file, model: parseLayered(file, source) };
    case FILE_FORMATS.inversion:
      throw new Error(`${source}: the x_T of inverted images (ddim invert), not a model; give it to ddim sample --init`);
    default:
      return { kind: 'unet', model: toReferenceLayout(file, source, configText === undefined ? undefined : parseJson(configText, source)), steps: trainedSteps(file.metadata) };
  }
}

/** The time-conditioned UNet of a model file; a layered file is refused, saying that `taker` needs a UNet. */
export function readUNetFile(file: SafetensorsFile, source: string, taker: string, configText?: string): { model: ReferenceModel; steps: number } {
  const m = readModelFile(file, source, configText);
  if (m.kind === 'layered') throw new Error(`${source}: a layered model (research mode, one UNet per step); ${taker} takes a time-conditioned UNet`);
  return m;
}

export function isLayeredFile(file: SafetensorsFile): boolean {
  return file.metadata.format === FILE_FORMATS.layered;
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: the config.json chosen with it is not valid JSON (${(e as Error).message})`);
  }
}

function trainedSteps(metadata: Record<string, string>): number {
  const step = Number(metadata.step ?? (metadata.trainer ? (JSON.parse(metadata.trainer) as { step?: number }).step : 0));
  return Number.isFinite(step) ? step : 0;
}
