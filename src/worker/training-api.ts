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
      const name = `${entry.name} (step ${entry.step})`;
      // Saving the same checkpoint twice would list two models that no one can tell apart.
      if ((await library.listModels()).some((m) => m.source === 'trained' && m.name === name)) throw new Error(`"${name}" is already in the library`);
      return models.importModel(name, await runs.checkpointBytes(entry), undefined, 'trained', entry.step, entry.dataset);
    },
  };
}
