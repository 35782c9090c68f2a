// The engine behind EngineApi, inside the worker: one WorkerCore (the device, one long job at a
// time, Stop) and one part per concern over it, joined into the object comlink exposes.
import { transfer } from 'comlink';
import type { EngineApi, ModelsApi } from './api';
import { WorkerCore } from './engine-core';
import { imagesApi } from './images-api';
import * as models from './models';
import { researchApi } from './research-api';
import { samplingApi } from './sampling-api';
import { trainingApi } from './training-api';

/** The model library: stored models and the bundled one, exported as transferred bytes. */
function modelsApi(): ModelsApi {
  return {
    listModels: () => models.listAll(),
    importModel: (name, bytes, configJson) => models.importModel(name, bytes, configJson),
    renameModel: (id, name) => models.renameModel(id, name),
    deleteModel: (id) => models.deleteModel(id),
    async exportModel(id) {
      const bytes = await models.exportModel(id);
      return transfer(bytes, [bytes]);
    },
  };
}

export function createEngine(): EngineApi {
  const core = new WorkerCore();
  return {
    init: (onGpuEvent, onJob, precision) => core.init(onGpuEvent, onJob, precision),
    loseDevice: () => core.loseDevice(),
    stop: (job) => core.stop(job),
    storage: () => core.storage(),
    ...modelsApi(),
    ...samplingApi(core),
    ...trainingApi(core),
    ...imagesApi(),
    ...researchApi(core),
  };
}
