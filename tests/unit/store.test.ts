// IndexedDB stores (idb-keyval over fake-indexeddb here): lists read entries only, never weights or
// checkpoints; orphans a crash left are removed; an image import is all or nothing.
import 'fake-indexeddb/auto';
import { get, set, createStore } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { listModels, removeOrphanWeights, saveModel, type ModelEntry } from '../../src/store/models';
import { addImages, listImages } from '../../src/store/images';
import { listRuns, removeOrphanCheckpoints, saveCheckpoint, type RunEntry } from '../../src/store/runs';
import { DEFAULT_DIFFUSION } from '../../src/diffusion/schedule';
import { PRESETS } from '../../src/nn/presets';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer';
import { PLAIN_SCHEDULES } from '../../src/train/recipe';

const entry = (id: string): ModelEntry => ({
  id, name: id, config: PRESETS.tiny!, resolution: 16, diffusion: DEFAULT_DIFFUSION, parameters: 1, trainingSteps: 0, bytes: 8, created: Date.now(), source: 'imported',
});

describe('model library', () => {
  it('lists entries without reading weights, and removes weights a crash left without an entry', async () => {
    await saveModel(entry('a'), new ArrayBuffer(8));
    await saveModel(entry('b'), new ArrayBuffer(8));
    const models = createStore('ddim-webgpu-models', 'models');
    await set('weights:lost', new ArrayBuffer(16), models); // written, then the tab closed
    expect((await listModels()).map((m) => m.id).sort()).toEqual(['a', 'b']);
    expect(await removeOrphanWeights()).toBe(1);
    expect(await get('weights:lost', models)).toBeUndefined();
    expect(await get('weights:a', models)).toBeInstanceOf(ArrayBuffer);
  });
});

describe('training runs', () => {
  it('keeps the checkpoint a run points at and removes the ones a crash orphaned', async () => {
    const run: RunEntry = {
      id: 'r', name: 'run', config: PRESETS.tiny!, options: { ...DEFAULT_OPTIMIZER, ...PLAIN_SCHEDULES, batch: 2, seed: 0, randomFlip: true, warmupSteps: 0 },
      dataset: 'emoji16', step: 5, targetSteps: 10, checkpointEvery: 5, previewEvery: 0, losses: [], updated: 0,
    };
    const saved = await saveCheckpoint(run, new ArrayBuffer(32));
    const runsDb = createStore('ddim-webgpu-runs', 'runs');
    await set('ckpt:r:9:123', new ArrayBuffer(64), runsDb); // a newer checkpoint whose entry was never written
    expect((await listRuns()).map((r) => r.checkpointKey)).toEqual([saved.checkpointKey]);
    expect(await removeOrphanCheckpoints()).toBe(1);
    expect(await get('ckpt:r:9:123', runsDb)).toBeUndefined();
    expect(await get(saved.checkpointKey!, runsDb)).toBeInstanceOf(ArrayBuffer);
  });
});

describe('your images', () => {
  it('adds a batch in one transaction: on a failure none is added, and the error says how much', async () => {
    const img = (id: string) => ({ id, name: `${id}.png`, rgb: new Uint8Array(64 * 64 * 3), added: 1 });
    await addImages([img('one'), img('two')]);
    expect((await listImages()).map((i) => i.id)).toEqual(['one', 'two']);
    // A value IndexedDB cannot store (a function) fails the transaction, as a quota error would.
    const bad = { ...img('four'), rgb: (() => 0) as unknown as Uint8Array };
    await expect(addImages([img('three'), bad])).rejects.toThrow(/could not save 2 image\(s\) \(none was added\)/);
    expect((await listImages()).map((i) => i.id)).toEqual(['one', 'two']);
  });
});
