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

    researchOneShot: (r) => core.exclusive('oneShot', 'evaluation', 1, async (job) => research.oneShot(await core.gpu(), r, job)),

    researchFirstStep: (r) => core.exclusive('firstStep', 'evaluation', 1, async (job) => {
      const out = await research.firstStep(await core.gpu(), r, job);
      return sendPixels(out, out.models.flatMap((m) => [m.firstX0, m.final]));
    }),

    researchBudgetRates: (spec) => core.exclusive('calibration', 'arm', spec.arms.length, async (job) => research.budgetRates(await core.gpu(), spec, job)),

    researchBudget: (spec, onUpdate) => core.exclusive('budget', 'step', 1, async (job) => research.runBudget(await core.gpu(), spec, job, onUpdate)),

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
