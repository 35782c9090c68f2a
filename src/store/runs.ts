// Training runs in IndexedDB: a run entry (settings, step, loss history) and its checkpoints. A
// checkpoint goes to a fresh key; only once it is completely written does the entry point at it,
// and only then is the previous checkpoint deleted, so a crash mid-save keeps the last good one.
import { createStore, del, delMany, get, getMany, set, type UseStore } from 'idb-keyval';
import type { UNetConfig } from '../nn/config';
import type { TrainerOptions } from '../train/trainer';
import { keysWithPrefix, storageError } from './models';

export type RunEnding = 'paused' | 'stopped' | 'error' | 'interrupted';

export interface RunEntry {
  id: string;
  name: string;
  config: UNetConfig;
  options: TrainerOptions;
  /** Dataset id: "emoji16", "emoji32" or "user". */
  dataset: string;
  /** The user's images when the run started: their count and a fingerprint of their values
   *  (host/hash.ts), since they may change before a resume. */
  data?: { count: number; key: string };
  /** Step of the saved checkpoint (the step a resume continues from). */
  step: number;
  /** Target step count. */
  targetSteps: number;
  checkpointEvery: number;
  /** EMA sample previews every this many steps (0: none). */
  previewEvery: number;
  /** Loss per step up to `step` (for the chart after a reload). */
  losses: number[];
  /** Training speed measured in the last session (images per second), on this browser's adapter. */
  imagesPerSecond?: number;
  /** The last EMA preview (RGBA8) and the step it was drawn at, shown again after a reload. */
  preview?: { count: number; size: number; rgba: Uint8Array };
  previewStep?: number;
  updated: number;
  /** Key of the complete checkpoint, if one was saved. */
  checkpointKey?: string;
  /** How its last session ended short of the target, and the step it had trained to (steps after
   *  `step` were not saved), so a reload shows it as it was left; absent once done. A session's own
   *  checkpoints say 'interrupted': what a reload reads if the page went away while it trained. */
  ended?: { how: RunEnding; step: number };
}

let store: UseStore | undefined;
const db = (): UseStore => (store ??= createStore('ddim-webgpu-runs', 'runs'));

/** The runs, without reading a single checkpoint. */
export async function listRuns(): Promise<RunEntry[]> {
  const runs = await getMany<RunEntry>(await keysWithPrefix(db(), 'run:'), db());
  return runs.filter((r) => r !== undefined).sort((a, b) => b.updated - a.updated);
}

/** Deletes checkpoints no run points at (a crash between writing one and dropping the previous);
 *  returns how many. */
export async function removeOrphanCheckpoints(): Promise<number> {
  const live = new Set((await listRuns()).map((r) => r.checkpointKey));
  const orphans = (await keysWithPrefix(db(), 'ckpt:')).filter((k) => !live.has(k));
  if (orphans.length) await delMany(orphans, db());
  return orphans.length;
}

export async function getRun(id: string): Promise<RunEntry | undefined> {
  return get<RunEntry>(`run:${id}`, db());
}

/** Saves the run entry alone (settings and losses, no new checkpoint). */
export async function putRun(run: RunEntry): Promise<void> {
  await set(`run:${run.id}`, run, db());
}

/** Writes a checkpoint, then the entry that points at it, then drops the previous checkpoint. */
export async function saveCheckpoint(run: RunEntry, bytes: ArrayBuffer): Promise<RunEntry> {
  const key = `ckpt:${run.id}:${run.step}:${Date.now()}`;
  try {
    await set(key, bytes, db());
  } catch (e) {
    await del(key, db()).catch(() => undefined);
    throw storageError(e, `the checkpoint of run "${run.name}" at step ${run.step}`, bytes.byteLength);
  }
  const previous = (await getRun(run.id))?.checkpointKey;
  const saved = { ...run, checkpointKey: key, updated: Date.now() };
  await set(`run:${run.id}`, saved, db());
  if (previous && previous !== key) await del(previous, db());
  return saved;
}

export async function checkpointBytes(run: RunEntry): Promise<ArrayBuffer> {
  const bytes = run.checkpointKey ? await get<ArrayBuffer>(run.checkpointKey, db()) : undefined;
  if (!bytes) throw new Error(`run "${run.name}": no saved checkpoint`);
  return bytes;
}

export async function deleteRun(id: string): Promise<void> {
  const run = await getRun(id);
  await del(`run:${id}`, db());
  if (run?.checkpointKey) await del(run.checkpointKey, db());
}
