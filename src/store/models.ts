// The model library in IndexedDB (idb-keyval, its own database): an entry (name, config, sizes,
// dates) and the weights (a reference-layout safetensors file) under separate keys. Weights are
// written before their entry and deleted after it, so a listed model always has its weights and a
// failed write (quota, a closed tab) leaves the library as it was.
import { createStore, del, delMany, get, getMany, keys, set, type UseStore } from 'idb-keyval';
import type { DiffusionConfig } from '../diffusion/schedule';
import type { UNetConfig } from '../nn/config';

export interface ModelEntry {
  id: string;
  name: string;
  /** A time-conditioned UNet, a layered model (one time-free UNet per step of its fixed chain), or the
   *  ideal denoiser of a data set (no weights). Absent in entries stored before layered models: a UNet. */
  kind?: 'unet' | 'layered' | 'ideal';
  /** A layered model's chain: its timesteps, ascending (t = 0 first, where no sub-model runs). */
  chain?: number[];
  /** Side of the images it denoises, in pixels. */
  resolution: number;
  /** The UNet's config; a layered model's sub-model config at the chain's first step; none for the ideal denoiser. */
  config?: UNetConfig;
  diffusion: DiffusionConfig;
  parameters: number;
  /** Optimisation steps the weights were trained for (0 if unknown). */
  trainingSteps: number;
  /** Bytes of the stored weights file. */
  bytes: number;
  created: number;
  /** Where it came from: the app's bundled model, a user's import, or a training run of this app. */
  source: 'bundled' | 'imported' | 'trained';
  /** The data it was trained on, where known: "emoji16", "emoji32", or "user" (the Train tab's images of
   *  the user, for a model saved from a run in this browser). Otherwise the first-step question
   *  compares with the emoji. */
  dataset?: string;
  /** The training run and checkpoint step it was saved from (Save as model: once per checkpoint). */
  fromRun?: { id: string; step: number };
}

let store: UseStore | undefined;
const db = (): UseStore => (store ??= createStore('ddim-webgpu-models', 'models'));

/** Turns IndexedDB's quota error into a message that says what could not be saved. */
export function storageError(e: unknown, what: string, bytes: number): Error {
  const name = (e as DOMException)?.name;
  if (name === 'QuotaExceededError') return new Error(`storage quota exceeded while saving ${what} (${(bytes / 2 ** 20).toFixed(1)} MB); delete models or runs in the library to make room`);
  return new Error(`could not save ${what}: ${(e as Error)?.message ?? String(e)}`);
}

/** Stored keys with a prefix ("model:", "weights:"): keys only, no value is read. */
export async function keysWithPrefix(store: UseStore, prefix: string): Promise<string[]> {
  return (await keys<IDBValidKey>(store)).filter((k): k is string => typeof k === 'string' && k.startsWith(prefix));
}

/** The library's entries, without reading a single weights file. */
export async function listModels(): Promise<ModelEntry[]> {
  const entries = await getMany<ModelEntry>(await keysWithPrefix(db(), 'model:'), db());
  // Entries stored before `resolution` was kept read it from their config.
  return entries.filter((e) => e !== undefined).map((e) => ({ ...e, resolution: e.resolution ?? e.config!.resolution })).sort((a, b) => b.created - a.created);
}

/** Deletes weights whose entry is gone (a crash between the two writes or deletes); returns how many. */
export async function removeOrphanWeights(): Promise<number> {
  const entries = new Set((await keysWithPrefix(db(), 'model:')).map((k) => k.slice('model:'.length)));
  const orphans = (await keysWithPrefix(db(), 'weights:')).filter((k) => !entries.has(k.slice('weights:'.length)));
  if (orphans.length) await delMany(orphans, db());
  return orphans.length;
}

export async function saveModel(entry: ModelEntry, weights: ArrayBuffer): Promise<void> {
  try {
    await set(`weights:${entry.id}`, weights, db());
    await set(`model:${entry.id}`, entry, db());
  } catch (e) {
    await del(`weights:${entry.id}`, db()).catch(() => undefined);
    throw storageError(e, `model "${entry.name}"`, weights.byteLength);
  }
}

export async function modelWeights(id: string): Promise<ArrayBuffer> {
  const w = await get<ArrayBuffer>(`weights:${id}`, db());
  if (!w) throw new Error(`model ${id}: no stored weights`);
  return w;
}

export async function getModel(id: string): Promise<ModelEntry | undefined> {
  return get<ModelEntry>(`model:${id}`, db());
}

export async function renameModel(id: string, name: string): Promise<ModelEntry> {
  const entry = await getModel(id);
  if (!entry) throw new Error(`model ${id}: not in the library`);
  if (!name.trim()) throw new Error('a model name cannot be empty');
  const renamed = { ...entry, name: name.trim() };
  await set(`model:${id}`, renamed, db());
  return renamed;
}

export async function deleteModel(id: string): Promise<void> {
  await del(`model:${id}`, db());
  await del(`weights:${id}`, db());
}
