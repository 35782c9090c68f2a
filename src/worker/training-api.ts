// The Train tab's side of the engine (TrainingApi) over the shared WorkerCore: memory estimates,
// stored runs, and the one training session that may run (Pause, Stop and a lost device end it).
import { memoryProblem, trainingMemory } from '../train/memory';
import * as library from '../store/models';
import * as runs from '../store/runs';
import type { TrainProgress, TrainingApi } from './api';
import { sendPixels, type JobContext, type WorkerCore } from './engine-core';
import * as models from './models';
import { TrainSession } from './training';

export function trainingApi(core: WorkerCore): TrainingApi {
  let training: TrainSession | undefined;
  core.onStop(() => training?.stop());
  core.onDeviceLost(() => training?.stop());

  const run = async (session: TrainSession, onProgress: (p: TrainProgress) => void, job: JobContext) => {
    training = session;
    try {
      return await session.loop((p) => onProgress(p.preview ? sendPixels(p, [p.preview]) : p), job);
    } finally {
      session.destroy();
      training = undefined;
    }
  };

  return {
    async estimateMemory(config, batch) {
      const device = await core.gpu();
      const m = trainingMemory(device, config, batch);
      const problem = memoryProblem(m, device.limits);
      return { parameters: m.parameters, trainBytes: m.totalBytes, fits: !problem, ...(problem ? { problem } : {}) };
    },

    listRuns: () => runs.listRuns(),

    async deleteRun(id) {
      if (training?.entry.id === id) throw new Error('this run is training; stop it first');
      await runs.deleteRun(id);
    },

    train: (spec, onProgress) => core.exclusive('training', 'step', spec.steps, async (job) => run(await TrainSession.start(await core.gpu(), spec), onProgress, job)),

    resumeRun: (id, onProgress) => core.exclusive('training', 'step', 1, async (job) => run(await TrainSession.resume(await core.gpu(), id), onProgress, job)),

    async pause() {
      if (!training) throw new Error('no training is running');
      training.pause();
    },

    async runToModel(id) {
      const entry = await runs.getRun(id);
      if (!entry) throw new Error(`training run ${id} is not stored`);
      // Saving the same checkpoint twice would list two models that no one can tell apart.
      const twin = (await library.listModels()).find((m) => m.fromRun?.id === id && m.fromRun.step === entry.step);
      if (twin) throw new Error(`this checkpoint is already in the library as "${twin.name}"`);
      return models.importModel(`${entry.name} (step ${entry.step})`, await runs.checkpointBytes(entry), undefined, { source: 'trained', steps: entry.step, dataset: entry.dataset, fromRun: { id, step: entry.step } });
    },
  };
}
