// The Train tab's form: what it holds, its defaults (the bundled architecture and the recipe), how it
// survives a reload (localStorage, read back field by field: a field the tab shows comes back where
// the worker's checks accept it, else as its default, and options the tab does not show always take
// today's defaults, so no stored value can block Train), and what is wrong with it, named by the
// labels the user sees, as they type: the bounds are the worker's (checkTrainerOptions, checkRunSteps,
// parseConfig), checked before Train instead of after it.
import { checkRunSteps } from '../app/training';
import { attentionResolutions, levelResolutions, parseConfig, type UNetConfig } from '../nn/config';
import { PRESETS } from '../nn/presets';
import { DEFAULT_OPTIMIZER } from '../train/optimizer';
import { DEFAULT_RECIPE } from '../train/recipe';
import { checkTrainerOptions, type TrainerOptions } from '../train/trainer';
import type { TrainSpec } from '../worker/api';
import { own } from '../host/own';

export type Dataset = TrainSpec['dataset'];
const DATASETS: readonly Dataset[] = ['emoji16', 'emoji32', 'user'];

/** The model fields as typed (lists as text). */
export interface ModelFields {
  preset: string;
  ch: number;
  ch_mult: string;
  num_res_blocks: number;
  attn_resolutions: string;
  dropout: number;
}

export interface TrainForm {
  data: Dataset;
  /** The size the user's images are trained at (16 or 32 px); the emoji have theirs. */
  userSize: number;
  fields: ModelFields;
  options: TrainerOptions;
  steps: number;
  checkpointEvery: number;
  previewEvery: number;
  name: string;
}

/** The model form's fields showing a preset. */
export function fieldsOf(preset: string, p: UNetConfig): ModelFields {
  return { preset, ch: p.ch, ch_mult: p.ch_mult.join(','), num_res_blocks: p.num_res_blocks, attn_resolutions: p.attn_resolutions.join(','), dropout: p.dropout };
}

export const DEFAULT_TRAIN_FORM: TrainForm = {
  data: 'emoji16',
  userSize: 32,
  // The bundled model's architecture: the one the recipe's milestones were measured on.
  fields: fieldsOf('bundled', PRESETS.bundled!),
  // The recipe the search picked (train/recipe.ts); the cosine decay spans the run (decaySteps = steps at Train).
  options: { ...DEFAULT_OPTIMIZER, ...DEFAULT_RECIPE, seed: 0, randomFlip: true },
  steps: 1000,
  checkpointEvery: 50,
  previewEvery: 100,
  name: 'my run',
};

export const TRAIN_FORM_KEY = 'ddim-webgpu:train-form';

/** Each field of `defaults` from `stored` where it has the default's type, else the default's. */
function sameShape<T extends object>(defaults: T, stored: unknown): T {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return defaults;
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(defaults)) {
    const s = (stored as Record<string, unknown>)[k];
    if (typeof s === typeof v && s !== null) out[k] = s;
  }
  return out as T;
}

/** The trainer options the tab has fields for; the others are the recipe's, never stored. */
const SHOWN_OPTIONS = ['lr', 'batch', 'emaRate', 'gradClip', 'warmupSteps', 'lrDecay', 'lossWeight', 'emaWarmup', 'randomFlip'] as const;

/** The form a reload finds: the stored one (localStorage's text), field by field, else the default. */
export function restoreTrainForm(text: string | null): TrainForm {
  let stored: unknown;
  try {
    stored = text === null ? undefined : JSON.parse(text);
  } catch {
    return DEFAULT_TRAIN_FORM;
  }
  const o = (typeof stored === 'object' && stored !== null ? stored : {}) as Record<string, unknown>;
  const form = sameShape(DEFAULT_TRAIN_FORM, o);
  const fields = sameShape(DEFAULT_TRAIN_FORM.fields, o.fields);
  const options = sameShape(DEFAULT_TRAIN_FORM.options, o.options);
  // Each shown training field on its own, over the defaults: kept where it passes the checks.
  let restored: TrainForm = { ...DEFAULT_TRAIN_FORM, name: form.name };
  const accept = (next: TrainForm): void => {
    if (trainingProblem(next) === undefined) restored = next;
  };
  for (const k of SHOWN_OPTIONS) accept({ ...restored, options: { ...restored.options, [k]: options[k] } });
  for (const k of ['steps', 'checkpointEvery', 'previewEvery'] as const) accept({ ...restored, [k]: form[k] });
  return {
    ...restored,
    data: DATASETS.includes(o.data as Dataset) ? (o.data as Dataset) : DEFAULT_TRAIN_FORM.data,
    userSize: form.userSize === 16 ? 16 : 32,
    fields: { ...fields, preset: own(PRESETS, fields.preset) ? fields.preset : 'custom' },
  };
}


/** The image size of the form's data set, in pixels. */
export function formResolution(f: Pick<TrainForm, 'data' | 'userSize'>): number {
  return f.data === 'emoji16' ? 16 : f.data === 'emoji32' ? 32 : f.userSize;
}

/** The labels of the Train tab's fields for the trainer options it shows. */
const OPTION_LABELS: Partial<Record<keyof TrainerOptions, string>> = {
  lr: 'Learning rate', batch: 'Batch size', emaRate: 'EMA rate', gradClip: 'Grad clip', warmupSteps: 'Warmup steps',
};

/** The first problem with the training fields, or undefined: "Learning rate must be a number in (0, 1), got 0". */
export function trainingProblem(f: Pick<TrainForm, 'options' | 'steps' | 'checkpointEvery' | 'previewEvery'>): string | undefined {
  try {
    checkTrainerOptions(f.options, 'Training', OPTION_LABELS);
    checkRunSteps(f.steps, 'Training: Steps');
    checkRunSteps(f.checkpointEvery, 'Training: Checkpoint every');
    if (!(Number.isInteger(f.previewEvery) && f.previewEvery >= 0)) throw new Error(`Training: Preview every must be an integer from 0 (no previews), got ${f.previewEvery}`);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A list field as typed ("1, 2,2"): its integers, or an error naming the field and what was typed. */
function intList(text: string, label: string, allowEmpty: boolean, example: string): number[] {
  const parts = text.split(',').map((v) => v.trim()).filter(Boolean);
  const values = parts.map(Number);
  if ((!allowEmpty && values.length === 0) || values.some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new Error(`Model: ${label} must be a comma-separated list of positive integers${allowEmpty ? ' (or empty)' : ''}, such as ${example}; got "${text}"`);
  }
  return values;
}

/** The model config of the form at `resolution` px, or an error naming the field as the form labels it. */
export function formConfig(f: ModelFields, resolution: number): UNetConfig {
  if (!(Number.isInteger(f.ch) && f.ch > 0 && f.ch % 32 === 0)) {
    throw new Error(`Model: ch must be a positive multiple of 32 (GroupNorm splits every width into 32 groups), got ${Number.isNaN(f.ch) ? 'no number' : f.ch}`);
  }
  return parseConfig({
    ch: f.ch, out_ch: 3, ch_mult: intList(f.ch_mult, 'ch_mult', false, '1,2,2'), num_res_blocks: f.num_res_blocks,
    attn_resolutions: intList(f.attn_resolutions, 'attn_resolutions', true, '8'), dropout: f.dropout, in_channels: 3, resolution, resamp_with_conv: true,
  }, 'Model');
}

/** What the form's model does differently from what its fields say: attention sizes no level has. */
export function configNotes(c: UNetConfig): string[] {
  const unused = c.attn_resolutions.filter((r) => !attentionResolutions(c).includes(r));
  if (unused.length === 0) return [];
  const levels = levelResolutions(c).join(', ');
  return [`attn_resolutions ${unused.join(', ')} px adds no attention: this model's levels are ${levels} px (attention runs at a level of a listed size, and always in the middle block).`];
}
