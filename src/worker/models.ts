// Models as the worker sees them: the bundled models (fetched from public/models, never stored), the
// ideal denoiser of each bundled data set, and the library in IndexedDB, each opened once through the
// one registry of model files (app/model-files.ts: a UNet, a layered model or the ideal denoiser,
// validated completely) and cached.
import { idealModel, readModelFile, type ModelFile } from '../app/model-files';
import { DEFAULT_DIFFUSION } from '../diffusion/schedule';
import { bundledEmojiSize, loadEmoji, type EmojiSplit } from '../train/emoji';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors';
import type { SafetensorsFile } from '../host/tensor';
import * as library from '../store/models';
import type { ModelEntry } from '../store/models';

/** Models shipped with the app (public/models), listed first and read-only. */
const BUNDLED: { id: string; name: string; file: string; dataset: string }[] = [
  { id: 'bundled:emoji16', name: 'Emoji 16 px (bundled)', file: 'models/emoji16.safetensors', dataset: 'emoji16' },
  // The layered models (the seed's research variant), trained by tools/train_layered_torch.py (README, Answers).
  { id: 'bundled:layer16', name: 'Layered 16 px, layer loss (bundled)', file: 'models/layer16.safetensors', dataset: 'emoji16' },
  { id: 'bundled:end2end16', name: 'Layered 16 px, end to end (bundled)', file: 'models/end2end16.safetensors', dataset: 'emoji16' },
];

/** The ideal denoiser of each bundled data set (engine/ideal.ts), on the bundled model's schedule. */
const IDEAL: { id: string; name: string; size: number }[] = [
  { id: 'ideal:emoji16', name: 'Ideal denoiser (16 px emoji)', size: 16 },
];

const emoji = new Map<string, ReturnType<typeof loadEmoji>>();

/** The bundled emoji of one split, fetched from public/data once per worker. */
export function bundledEmoji(size: number, split: EmojiSplit): ReturnType<typeof loadEmoji> {
  const key = `${size}/${split}`;
  let p = emoji.get(key);
  if (!p) {
    p = loadEmoji(size, split, async (f) => new Uint8Array(await fetchBytes(`data/${f}`)));
    p.catch(() => emoji.delete(key));
    emoji.set(key, p);
  }
  return p;
}

const opened = new Map<string, Promise<{ entry: ModelEntry; model: ModelFile }>>();

function assetUrl(file: string): string {
  return new URL(`${import.meta.env.BASE_URL}${file}`, self.location.origin).href;
}

/** A file of the app's public/ folder; errors name the file and the HTTP status. */
export async function fetchBytes(file: string): Promise<ArrayBuffer> {
  const res = await fetch(assetUrl(file));
  if (!res.ok) throw new Error(`${file}: HTTP ${res.status} ${res.statusText}`);
  return res.arrayBuffer();
}

function entryFor(id: string, name: string, model: ModelFile, bytes: number, source: ModelEntry['source'], trainingSteps: number): ModelEntry {
  const base = { id, name, diffusion: model.diffusion, parameters: model.parameters, trainingSteps, bytes, created: Date.now(), source, resolution: model.resolution };
  switch (model.kind) {
    case 'unet': return { ...base, kind: 'unet', config: model.model.config };
    case 'layered': return { ...base, kind: 'layered', chain: model.model.seq, config: model.model.configs.get(model.model.seq[1]!)! };
    case 'ideal': return { ...base, kind: 'ideal' };
  }
}

/** Opens a model file as the library holds it (app/model-files.ts); errors name the file. */
export function parseModel(bytes: ArrayBuffer, source: string, configJson?: string): ModelFile {
  return openModel(parseSafetensors(new Uint8Array(bytes), source), source, configJson);
}

function openModel(file: SafetensorsFile, source: string, configJson?: string): ModelFile {
  const config = configJson === undefined ? undefined : { text: configJson, name: `the config.json chosen with ${source}` };
  return readModelFile(file, source, config);
}

/** What an exported file says of its model beyond the weights, so a re-import is the same entry:
 *  the steps it was trained for, its name in the library and the data it was trained on. */
function origin(entry: Pick<ModelEntry, 'trainingSteps' | 'name' | 'dataset' | 'source'>): Record<string, string> {
  return {
    ...(entry.trainingSteps > 0 ? { step: String(entry.trainingSteps) } : {}),
    // A bundled model's copy is named after its file: the library already lists the bundled one.
    ...(entry.source === 'bundled' ? {} : { library_name: entry.name }),
    ...(entry.dataset ? { dataset: entry.dataset } : {}),
  };
}

/** The file the library stores for a model (`extra`: metadata added to it): a UNet in the reference
 *  layout, a layered model as it came. */
function storedFile(model: ModelFile, extra: Record<string, string> = {}): Uint8Array {
  switch (model.kind) {
    case 'unet': return serializeSafetensors(model.model.tensors, { ...model.model.metadata, ...extra });
    case 'layered': return serializeSafetensors(model.file.tensors, { ...model.file.metadata, ...extra });
    case 'ideal': throw new Error(`${model.source}: has no weights to store or export (it is computed from its data set)`);
  }
}

async function loadIdeal(i: (typeof IDEAL)[number]): Promise<{ entry: ModelEntry; model: ModelFile }> {
  const model = idealModel(await bundledEmoji(i.size, 'train'), DEFAULT_DIFFUSION, i.name);
  return { entry: entryFor(i.id, i.name, model, 0, 'bundled', 0), model };
}

async function loadBundled(b: (typeof BUNDLED)[number]): Promise<{ entry: ModelEntry; model: ModelFile }> {
  const bytes = await fetchBytes(b.file);
  const model = parseModel(bytes, b.file);
  return { entry: { ...entryFor(b.id, b.name, model, bytes.byteLength, 'bundled', model.trainedSteps), dataset: b.dataset }, model };
}

export async function listAll(): Promise<ModelEntry[]> {
  const bundled = await Promise.all([...BUNDLED, ...IDEAL].map((b) => getModel(b.id).then((m) => m.entry)));
  return [...bundled, ...(await library.listModels())];
}

export function getModel(id: string): Promise<{ entry: ModelEntry; model: ModelFile }> {
  let p = opened.get(id);
  if (!p) {
    const b = BUNDLED.find((x) => x.id === id), i = IDEAL.find((x) => x.id === id);
    p = b ? loadBundled(b) : i ? loadIdeal(i) : (async () => {
      const entry = await library.getModel(id);
      if (!entry) throw new Error(`model ${id} is not in the library`);
      return { entry, model: parseModel(await library.modelWeights(id), entry.name) };
    })();
    p.catch(() => opened.delete(id));
    opened.set(id, p);
  }
  return p;
}

/** Where a model comes from, beyond its file: a run of this app (Save as model), or an import. */
export interface ModelOrigin {
  source?: ModelEntry['source'];
  steps?: number;
  dataset?: string;
  fromRun?: ModelEntry['fromRun'];
}

/** `name`, or "name (2)", "name (3)" ... : the first that no model of the library (bundled included) has. */
function unusedName(name: string, taken: readonly string[]): string {
  let candidate = name;
  for (let k = 2; taken.includes(candidate); k++) candidate = `${name} (${k})`;
  return candidate;
}

/** Validates (and converts a UNet to the reference layout) and stores; the library is untouched on any error. */
export async function importModel(name: string, bytes: ArrayBuffer, configJson?: string, from: ModelOrigin = {}): Promise<ModelEntry> {
  const file = parseSafetensors(new Uint8Array(bytes), name);
  const model = openModel(file, name, configJson);
  // A file this app exported names its model and its data (origin): its name is used, and its data
  // where it is one of the bundled sets (a file's "your images" would be another browser's).
  const said = file.metadata.library_name?.trim();
  const saidData = file.metadata.dataset;
  const dataset = from.dataset ?? (saidData !== undefined && bundledEmojiSize(saidData) ? saidData : undefined);
  const wanted = said && said.length <= 200 ? said : name.replace(/\.safetensors$/, '');
  const base = entryFor('', unusedName(wanted, (await listAll()).map((m) => m.name)), model, 0, from.source ?? 'imported', from.steps ?? model.trainedSteps);
  const entry: ModelEntry = { ...base, ...(dataset ? { dataset } : {}), ...(from.fromRun ? { fromRun: from.fromRun } : {}) };
  const weights = storedFile(model, origin(entry));
  const stored: ModelEntry = { ...entry, id: `m-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`, bytes: weights.byteLength };
  await library.saveModel(stored, weights.buffer as ArrayBuffer);
  return stored;
}

/** The model as a file: a UNet in the reference layout (F32, PyTorch loads it with strict=True), a layered model in its own format. */
export async function exportModel(id: string): Promise<ArrayBuffer> {
  const { entry, model } = await getModel(id);
  return storedFile(model, origin(entry)).buffer as ArrayBuffer;
}

export async function renameModel(id: string, name: string): Promise<ModelEntry> {
  if ([...BUNDLED, ...IDEAL].some((b) => b.id === id)) throw new Error('a bundled model cannot be renamed');
  const e = await library.renameModel(id, name);
  opened.delete(id);
  return e;
}

export async function deleteModel(id: string): Promise<void> {
  if ([...BUNDLED, ...IDEAL].some((b) => b.id === id)) throw new Error('a bundled model cannot be deleted');
  await library.deleteModel(id);
  opened.delete(id);
}
