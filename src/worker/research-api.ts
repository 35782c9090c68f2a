// The Research tab's side of the engine (ResearchApi) over the shared WorkerCore: experiments 1 and
// 2, and the budget comparison's runs (stored after every point; one left 'running' by a closed tab
// shows as stopped).
import * as researchStore from '../store/research';
import type { ResearchApi } from './api';
import { sendPixels, type WorkerCore } from './engine-core';
import * as research from './research';

export function researchApi(core: WorkerCore): ResearchApi {
  return {
    researchModels: () => research.researchModels(),

    researchOneShot: (r) => core.exclusive('oneShot', async () => research.oneShot(await core.gpu(), r)),

    researchFirstStep: (r) => core.exclusive('firstStep', async () => {
      const out = await research.firstStep(await core.gpu(), r);
      return sendPixels(out, out.models.flatMap((m) => [m.firstX0, m.final]));
    }),

    researchBudget: (spec, onUpdate) => core.exclusive('budget', async () => research.runBudget(await core.gpu(), spec, () => core.stopped, onUpdate)),

    async listBudgetRuns() {
      const live = core.busy === 'budget';
      return (await researchStore.listBudgetRuns()).map((r) => (r.state === 'running' && !live ? { ...r, state: 'stopped' as const } : r));
    },

    async deleteBudgetRun(id) {
      if (core.busy === 'budget') {
        const run = await researchStore.getBudgetRun(id);
        if (run?.state === 'running') throw new Error('this run is training; stop it first');
      }
      await researchStore.deleteBudgetRun(id);
    },

    async budgetCsv(id) {
      const run = await researchStore.getBudgetRun(id);
      if (!run) throw new Error(`research run ${id} is not stored`);
      return research.budgetCsv(run);
    },
  };
}
