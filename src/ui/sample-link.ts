// The Sample tab's settings as text: a URL query (the shareable link) and the same text in a PNG's
// tEXt chunk (an exported image carries how it was made). One parser for both, so a link and a
// dropped PNG restore the same way; what it cannot read falls back to the default, with a note.
import { SAMPLERS, type SamplerKind } from '../diffusion/samplers';
import { SKIP_TYPES, type SkipType } from '../diffusion/timesteps';
import { MAX_SAMPLE_BATCH } from '../app/sampling';
import type { SampleSettings } from '../worker/api';
import { isTier, TIERS, type Tier } from '../gpu/tier';

/** The settings a link carries (not the model unless it is bundled: library ids are this browser's),
 *  and the precision tier the engine ran in (a link opens the page in it; a PNG records it). */
export type SharedSettings = Omit<SampleSettings, 'previews'> & { precision?: Tier };

/** The PNG tEXt keyword of exported images. */
export const PNG_SETTINGS_KEY = 'ddim-webgpu';

const MAX_STEPS = 1000;

/** Sample settings as a link and a PNG carry them: with the precision tier of the engine that ran them. */
export function sharedSettings(s: SampleSettings, tier: Tier | undefined): SharedSettings {
  return { ...s, ...(tier ? { precision: tier } : {}) };
}

export function settingsToQuery(s: SharedSettings): string {
  const q = new URLSearchParams();
  if (s.modelId.startsWith('bundled:')) q.set('model', s.modelId.slice('bundled:'.length));
  q.set('sampler', s.sampler);
  q.set('steps', String(s.steps));
  if (s.sampler === 'generalized') q.set('eta', String(s.eta));
  q.set('skip', s.skip);
  q.set('seed', String(s.seed));
  q.set('batch', String(s.batch));
  q.set('clip', s.clipX0 ? '1' : '0');
  if (s.precision) q.set('precision', s.precision);
  return q.toString();
}

export interface ParsedSettings {
  /** The settings the text gives, each checked; absent ones are left to the caller's defaults. */
  settings: Partial<SharedSettings>;
  /** One line per value that was ignored, naming it and why. */
  notes: string[];
}

/** A plain decimal integer in [lo, hi] (no sign, exponent or hex), else undefined. */
export function integerIn(text: string, lo: number, hi: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const v = Number(text);
  return v >= lo && v <= hi ? v : undefined;
}

/** A plain decimal eta in [0, 1], else undefined. */
export function etaOf(text: string): number | undefined {
  return /^\d*\.?\d+$/.test(text) && Number(text) <= 1 ? Number(text) : undefined;
}

/** Reads settings from a query string; `models` are the bundled model ids a link may name. */
export function settingsFromQuery(text: string, models: readonly string[]): ParsedSettings {
  const q = new URLSearchParams(text);
  const settings: Partial<SharedSettings> = {};
  const notes: string[] = [];
  const read = <T>(key: string, parse: (v: string) => T | undefined, expected: string, apply: (v: T) => void): void => {
    const raw = q.get(key);
    if (raw === null) return;
    const v = parse(raw);
    if (v === undefined) notes.push(`${key}=${JSON.stringify(raw.slice(0, 40))} ignored: expected ${expected}`);
    else apply(v);
  };
  read('model', (v) => (models.includes(`bundled:${v}`) ? `bundled:${v}` : undefined), `one of ${models.map((m) => m.replace('bundled:', '')).join(', ')}`, (v) => (settings.modelId = v));
  read('sampler', (v) => SAMPLERS.find((k) => k === v), SAMPLERS.join(' or '), (v: SamplerKind) => (settings.sampler = v));
  read('steps', (v) => integerIn(v, 1, MAX_STEPS), `an integer in [1, ${MAX_STEPS}]`, (v) => (settings.steps = v));
  read('eta', etaOf, 'a number in [0, 1]', (v) => (settings.eta = v));
  read('skip', (v) => SKIP_TYPES.find((k) => k === v), SKIP_TYPES.join(' or '), (v: SkipType) => (settings.skip = v));
  read('seed', (v) => integerIn(v, 0, 0xffffffff), 'an integer in [0, 2^32)', (v) => (settings.seed = v));
  read('batch', (v) => integerIn(v, 1, MAX_SAMPLE_BATCH), `an integer in [1, ${MAX_SAMPLE_BATCH}]`, (v) => (settings.batch = v));
  read('clip', (v) => (v === '1' ? true : v === '0' ? false : undefined), '0 or 1', (v) => (settings.clipX0 = v));
  read('precision', (v) => (isTier(v) ? v : undefined), TIERS.join(', '), (v) => (settings.precision = v));
  return { settings, notes };
}

/** The query keys a link uses (other parameters of the page, such as ?debug, are left alone). */
export const LINK_KEYS = ['model', 'sampler', 'steps', 'eta', 'skip', 'seed', 'batch', 'clip', 'precision'] as const;

/** True when the query names any sample setting (a shared link, not a plain visit). */
export function hasSettings(text: string): boolean {
  const q = new URLSearchParams(text);
  return LINK_KEYS.some((k) => q.has(k));
}
