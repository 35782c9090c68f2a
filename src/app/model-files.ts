// The model files the page's import and every `ddim` command open, told apart by
// `__metadata__.format` (host/metadata.ts FILE_FORMATS), in one place:
//   ddim-checkpoint        a training checkpoint: it samples with its EMA weights
//   ddim-unet, any other   a UNet: the reference layout, or diffusers' UNet2DModel (config.json given
//                          with it, or inferred from the tensors); the tensors decide, and are checked
//   ddim-layered           a layered (research-mode) model: one time-free UNet per step
//   ddim-inversion         not a model: the x_T of images, refused with where it goes instead
// Every family opens into one ModelFile: its image shape, its schedule, whether it fixes its chain
// (a layered model's steps are its sub-models) or a sampler's settings choose it, and a plan of it on
// the GPU (engine/step-model.ts). Everything is validated here, when the file is read (every config
// field, every tensor's name, shape and values), so nothing later fails on a file with an internal
// message; the metadata is parsed once, into the typed values every later step reads.
import { planChain, type ChainPlan, type ChainSpec } from './sampling';
import { alphaBars, betaSchedule, type DiffusionConfig } from '../diffusion/schedule';
import { describeChain } from '../diffusion/timesteps';
import { unetStepModel, type StepModel } from '../engine/step-model';
import { FILE_FORMATS, metadataJson } from '../host/metadata';
import type { SafetensorsFile } from '../host/tensor';
import { toReferenceLayout, weightsFile, type ReferenceModel } from '../io/convert';
import { parameterSpecs } from '../nn/architecture';
import type { UNetConfig } from '../nn/config';
import { packParameters, paramLayout } from '../nn/params';
import { UNet } from '../nn/unet';
import { parseLayered, type LayeredModel } from '../research/layered';
import { LayeredStepModel, layeredCoefficients } from '../research/layered-step';
import { IdealStepModel } from '../engine/ideal';
import type { ImageDataset } from '../train/data';

/** What every model file gives, whatever its family. */
interface ModelFacts {
  /** Names the file in errors. */
  source: string;
  /** The image it denoises: channels and side. */
  channels: number;
  resolution: number;
  diffusion: DiffusionConfig;
  parameters: number;
  /** Training steps the file says it has had (0 when it does not say). */
  trainedSteps: number;
  /** The chain the file fixes (a layered model: a sub-model per step), else undefined: a sampler's settings choose it. */
  fixedChain: ChainPlan | undefined;
  /** The model on the GPU for `batch` images, its weights loaded (validated already). */
  plan(device: GPUDevice, batch: number): StepModel;
}

export type ModelFile =
  | (ModelFacts & { kind: 'unet'; model: ReferenceModel })
  | (ModelFacts & { kind: 'layered'; file: SafetensorsFile; model: LayeredModel })
  | (ModelFacts & { kind: 'ideal'; data: ImageDataset });

/** A config.json chosen with a model file: its text, and its name for errors. */
export interface ConfigText {
  text: string;
  name: string;
}

/** A model whose eps cannot update its own image cannot denoise: out_ch must be in_channels. */
function checkDenoiser(config: UNetConfig, source: string, where = 'model config'): void {
  if (config.out_ch !== config.in_channels) {
    throw new Error(`${source}: ${where} has out_ch ${config.out_ch} and in_channels ${config.in_channels}; a denoiser predicts noise of the image's own ${config.in_channels} channels`);
  }
}

/** A time-conditioned UNet as a model file. */
export function unetModelFile(model: ReferenceModel, source: string, trainedSteps = 0): ModelFile {
  checkDenoiser(model.config, source);
  return {
    kind: 'unet', model, source, trainedSteps,
    channels: model.config.in_channels, resolution: model.config.resolution, diffusion: model.diffusion,
    parameters: [...model.tensors.values()].reduce((s, t) => s + t.data.length, 0),
    fixedChain: undefined,
    plan(device, batch) {
      const net = new UNet(device, model.config, { batch });
      net.params.load(weightsFile(model), source);
      return unetStepModel(net);
    },
  };
}

/**
 * A layered model as a model file: every sub-model the chain runs (t > 0 of seq) is checked tensor
 * by tensor here, and `models.0.*` (never run) when present; nothing else may be in the file.
 */
export function layeredModelFile(file: SafetensorsFile, model: LayeredModel, source: string): ModelFile {
  const known = new Set<string>();
  let parameters = 0;
  for (const t of model.seq) {
    const config = model.configs.get(t)!;
    checkDenoiser(config, source, `the config of models.${t}`);
    const layout = paramLayout(parameterSpecs(config));
    for (const s of layout.specs) known.add(`models.${t}.${s.name}`);
    if (t === 0 && ![...file.tensors.keys()].some((n) => n.startsWith('models.0.'))) continue;
    packParameters(layout, file, source, `models.${t}.`);
    if (t > 0) parameters += layout.count;
  }
  // A training checkpoint's optimizer state rides along (research/trainer.ts); the sampler reads the EMA weights.
  const extra = [...file.tensors.keys()].find((n) => !known.has(n) && !/^(model|adam_m|adam_v)\//.test(n));
  if (extra !== undefined) throw new Error(`${source}: unexpected tensor "${extra}" (a layered model holds models.<t>.* for t in ${model.seq.join(', ')})`);
  const c = model.configs.get(model.seq[0]!)!;
  return {
    kind: 'layered', file, model, source, parameters,
    trainedSteps: trainedSteps(file.metadata, source),
    channels: c.in_channels, resolution: c.resolution, diffusion: model.diffusion,
    fixedChain: { abar: model.abar, seq: model.seq, coefficients: layeredCoefficients(model) },
    plan(device, batch) {
      const m = new LayeredStepModel(device, model, batch);
      m.load(file, source);
      return m;
    },
  };
}

/**
 * The ideal denoiser of a data set as a model (engine/ideal.ts): the exact posterior mean under the
 * data's empirical distribution on `diffusion`'s schedule. Not a file: `source` names the data set.
 */
export function idealModel(data: ImageDataset, diffusion: DiffusionConfig, source = `the ideal denoiser of ${data.id}`): ModelFile {
  const abar = alphaBars(betaSchedule(diffusion));
  return {
    kind: 'ideal', data, source, trainedSteps: 0, parameters: 0,
    channels: data.channels, resolution: data.resolution, diffusion, fixedChain: undefined,
    plan: (device, batch) => new IdealStepModel(device, data.images, data.count, [data.channels, data.resolution, data.resolution], abar, batch),
  };
}

/** Reads any model file, validated; `config` is a diffusers config.json chosen with it. Errors name `source` (or the config). */
export function readModelFile(file: SafetensorsFile, source: string, config?: ConfigText): ModelFile {
  const json = config === undefined ? undefined : parseJson(config);
  switch (file.metadata.format) {
    case FILE_FORMATS.layered:
      if (config !== undefined) throw new Error(`${source}: a layered model carries its own config; a config.json applies to diffusers models only`);
      return layeredModelFile(file, parseLayered(file, source), source);
    case FILE_FORMATS.inversion:
      throw new Error(`${source}: the x_T of inverted images (ddim invert), not a model; give it to ddim sample --init`);
    default:
      return unetModelFile(toReferenceLayout(file, source, json), source, trainedSteps(file.metadata, source));
  }
}

/** The time-conditioned UNet of a model file; a layered file is refused, saying that `taker` needs a UNet. */
export function readUNetFile(file: SafetensorsFile, source: string, taker: string, config?: ConfigText): { model: ReferenceModel; steps: number } {
  const m = readModelFile(file, source, config);
  if (m.kind !== 'unet') throw new Error(`${source}: a layered model (research mode, one UNet per step); ${taker} takes a time-conditioned UNet`);
  return { model: m.model, steps: m.trainedSteps };
}

/** Whether a file is a layered model (its format alone: the commands with other contracts for it look first). */
export function isLayeredFile(file: SafetensorsFile): boolean {
  return file.metadata.format === FILE_FORMATS.layered;
}

/** The chain's settings a sampler may choose (a model that fixes its chain takes none of them). */
export const CHAIN_CHOICES = ['steps', 'skip', 'eta', 'sampler'] as const;

/**
 * The chain `s` asks of a model: the model's own when its file fixes it (a setting in `chosen` that
 * cannot apply is refused, naming the file and the chain), else planned on its schedule (`replay`:
 * a given sequence). The batch and seed are the caller's to check (checkRun).
 */
export function modelChain(m: ModelFile, s: ChainSpec, chosen: readonly string[] = [], replay?: number[]): ChainPlan {
  if (!m.fixedChain) return planChain(m.diffusion, s, { source: m.source, ...(replay ? { seq: replay } : {}) });
  if (chosen.length) throw new Error(`${m.source}: ${fixedChainText(m.fixedChain)}; ${chosen.join(', ')} do${chosen.length === 1 ? 'es' : ''} not apply`);
  return m.fixedChain;
}

/** "a layered model's chain is fixed at 9 steps: t = 900, 800, …, 100, one sub-model each". */
export function fixedChainText(chain: ChainPlan): string {
  return `a layered model's chain is fixed at ${describeChain(chain.seq.slice(1))}, one sub-model each`;
}

/** abar_t of a model file's schedule. */
export function modelAbar(m: ModelFile): Float64Array {
  return m.fixedChain?.abar ?? alphaBars(betaSchedule(m.diffusion));
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
