// Models as the worker sees them: the bundled model (fetched from public/models, never stored) and
// the library in IndexedDB, parsed into the reference layout once and cached.
import type { ReferenceModel } from '../io/convert';
import { readUNetFile } from '../app/model-files';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors';
import { parameterCount } from '../nn/architecture';
import * as library from '../store/models';
import type { ModelEntry } from '../store/models';

/** Models shipped with the app (public/models), listed first and read-only. */
const BUNDLED: { id: string; name: string; file: string }[] = [{ id: 'bundled:emoji16', name: 'Emoji 16 px (bundled)', file: 'models/emoji16.safetensors' }];

const parsed = new Map<string, Promise<{ entry: ModelEntry; model: ReferenceModel }>>();

function assetUrl(file: string): string {
  return new URL(`${import.meta.env.BASE_URL}${file}`, self.location.origin).href;
}

/** A file of the app's public/ folder; errors name the file and the HTTP status. */
export async function fetchBytes(file: string): Promise<ArrayBuffer> {
  const res = await fetch(assetUrl(file));
  if (!res.ok) throw new Error(`${file}: HTTP ${res.status} ${res.statusText}`);
  return res.arrayBuffer();
}

function entryFor(id: string, name: string, model: ReferenceModel, bytes: number, source: ModelEntry['source'], trainingSteps: number): ModelEntry {
  return { id, name, config: model.config, diffusion: model.diffusion, parameters: parameterCount(model.config), trainingSteps, bytes, created: Date.now(), source };
}

/** Parses a model file as the library holds it (a time-conditioned UNet, app/model-files.ts); errors name the file. */
export function parseModel(bytes: ArrayBuffer, source: string, configJson?: string): { model: ReferenceModel; steps: number } {
  const config = configJson === undefined ? undefined : { text: configJson, name: `the config.json chosen with ${source}` };
  return readUNetFile(parseSafetensors(new Uint8Array(bytes), source), source, 'the model library', config);
}

async function loadBundled(b: (typeof BUNDLED)[number]): Promise<{ entry: ModelEntry; model: ReferenceModel }> {
  const bytes = await fetchBytes(b.file);
  const { model, steps } = parseModel(bytes, b.file);
  return { entry: entryFor(b.id, b.name, model, bytes.byteLength, 'bundled', steps), model };
}

export async function listAll(): Promise<ModelEntry[]> {
  const bundled = await Promise.all(BUNDLED.map((b) => getModel(b.id).then((m) => m.entry)));
  return [...bundled, ...(await library.listModels())];
}

export function getModel(id: string): Promise<{ entry: ModelEntry; model: ReferenceModel }> {
  let p = parsed.get(id);
  if (!p) {
    const b = BUNDLED.find((x) => x.id === id);
    p = b ? loadBundled(b) : (async () => {
      const entry = await library.getModel(id);
      if (!entry) throw new Error(`model ${id} is not in the library`);
      const { model } = parseModel(await library.modelWeights(id), entry.name);
      return { entry, model };
    })();
    p.catch(() => parsed.delete(id));
    parsed.set(id, p);
  }
  return p;
}

/** Validates, converts to the reference layout and stores; the library is untouched on any error. */
export async function importModel(name: string, bytes: ArrayBuffer, configJson?: string, source: ModelEntry['source'] = 'imported', steps?: number): Promise<ModelEntry> {
  const { model, steps: fileSteps } = parseModel(bytes, name, configJson);
  const weights = serializeSafetensors(model.tensors, model.metadata);
  const id = `m-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const entry = entryFor(id, name.replace(/\.safetensors$/, ''), model, weights.byteLength, source, steps ?? fileSteps);
  await library.saveModel(entry, weights.buffer as ArrayBuffer);
  return entry;
}

export async function exportModel(id: string): Promise<ArrayBuffer> {
  const { model } = await getModel(id);
  return serializeSafetensors(model.tensors, model.metadata).buffer as ArrayBuffer;
}

export async function renameModel(id: string, name: string): Promise<ModelEntry> {
  if (BUNDLED.some((b) => b.id === id)) throw new Error('the bundled model cannot be renamed');
  const e = await library.renameModel(id, name);
  parsed.delete(id);
  return e;
}

export async function deleteModel(id: string): Promise<void> {
  if (BUNDLED.some((b) => b.id === id)) throw new Error('the bundled model cannot be deleted');
  await library.deleteModel(id);
  parsed.delete(id);
}
