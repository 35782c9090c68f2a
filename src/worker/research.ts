// The Research tab's side of the worker: the models the experiments can compare (every model of the
// library, time-conditioned or layered, bundled or not), experiments 1 and 2 on held-out emoji, and
// budget-comparison runs (experiment 3) kept in IndexedDB after every point.
import { DEFAULT_DIFFUSION } from '../diffusion/schedule';
import { checkBudget, checkExperiment, commonResolution, experimentDenoiser, experimentEvaluations } from '../app/research';
import { MAX_SAMPLE_BATCH } from '../app/sampling';
import type { SafetensorsFile } from '../host/tensor';
import { armSteps, budgetArm, budgetCsvRow, BUDGET_CSV_HEADER, DEFAULT_BUDGET, evalsPerStep, runArm, type ArmKind, type BudgetSettings } from '../research/budget';
import { firstStepStudy, oneShotVsChain, scoreBounds, type FirstStepResult, type OneShotRow, type SetBounds, type StepDenoiser } from '../research/experiments';
import { SetMeasure, setStats, stat } from '../eval/sets';
import type { ImageDataset } from '../train/data';
import { layeredFile, parseLayered } from '../research/layered';
import { DEFAULT_OPTIMIZER } from '../train/optimizer';
import { spreadImages } from '../train/data';
import * as store from '../store/research';
import type { BudgetRunEntry, BudgetSpec } from '../store/research';
import type { FirstStepStudyResult, OneShotCurve, OneShotPoint, OneShotStudy, ResearchModelInfo, ResearchRequest } from './api';
import type { JobContext } from './engine-core';
import * as models from './models';
import { bundledEmoji } from './models';
import { toPixels } from './pixels';


export async function researchModels(): Promise<ResearchModelInfo[]> {
  return (await models.listAll()).map((e): ResearchModelInfo => ({
    id: e.id, name: e.name, kind: e.kind === 'layered' || e.kind === 'ideal' ? e.kind : 'time', parameters: e.parameters, resolution: e.resolution,
    ...(e.chain ? { numBlock: e.chain.length } : {}),
  }));
}

/**
 * A denoiser that counts the job in image evaluations (each image of a batched forward is one, as
 * the Research tab's cost line counts them), and which ends the job on Stop: experiments 1 and 2
 * count and stop through it, unchanged.
 */
function counted(d: StepDenoiser, job: JobContext, count: { done: number }): StepDenoiser {
  return {
    kind: d.kind, seq: d.seq, abar: d.abar, channels: d.channels, resolution: d.resolution, batch: d.batch, parameters: d.parameters,
    async eps(t, x) {
      job.checkStop();
      const out = await d.eps(t, x);
      count.done += x.length / (d.channels * d.resolution * d.resolution);
      job.progress(count.done, undefined, `t = ${t}`);
      return out;
    },
    destroy: () => d.destroy(),
  };
}

/** The request checked (app/research.ts), then its models as denoisers of `batch` images, counted for the job. */
async function modelsOf(device: GPUDevice, kind: 'oneshot' | 'firststep', r: ResearchRequest, batch: number, job: JobContext): Promise<{ id: string; name: string; d: StepDenoiser }[]> {
  if (r.modelIds.length === 0) throw new Error('choose at least one model');
  checkExperiment(kind, r.n, r.numBlock, r.seed, r.seeds);
  const out = [];
  const count = { done: 0 };
  for (const id of r.modelIds) {
    const { entry, model } = await models.getModel(id);
    out.push({ id, name: entry.name, d: counted(experimentDenoiser(device, model, r.numBlock, batch), job, count) });
  }
  commonResolution(out.map((m) => m.d));
  job.progress(0, experimentEvaluations(kind, out.map(({ d }) => d.seq.length - 1), r.n, r.seeds));
  return out;
}

/** The request's seeds, and its data: the held-out images (the reference of every score) and the training images (the floor). */
async function setting(r: ResearchRequest, size: number): Promise<{ seeds: number[]; held: ImageDataset; measure: SetMeasure; bounds: SetBounds }> {
  const seeds = Array.from({ length: r.seeds }, (_, i) => r.seed + i);
  const [held, train] = [await bundledEmoji(size, 'eval'), await bundledEmoji(size, 'train')];
  const measure = new SetMeasure(held.images, held.channels, size);
  return { seeds, held, measure, bounds: scoreBounds(measure, train, r.n, seeds) };
}

/** Runs an experiment on the request's models, freeing their plans after it. */
async function withModels<T>(device: GPUDevice, kind: 'oneshot' | 'firststep', r: ResearchRequest, batch: number, job: JobContext, run: (ms: { id: string; name: string; d: StepDenoiser }[]) => Promise<T>): Promise<T> {
  const ms = await modelsOf(device, kind, r, batch, job);
  try {
    return await run(ms);
  } finally {
    for (const m of ms) m.d.destroy();
  }
}

/** Experiment 1: one-shot x0 vs the chain from x_t, against t, on n held-out emoji, over the seeds' noises. */
export function oneShot(device: GPUDevice, r: ResearchRequest, job: JobContext): Promise<OneShotStudy> {
  return withModels(device, 'oneshot', r, r.n, job, async (ms) => {
    const { seeds, held, measure, bounds } = await setting(r, ms[0]!.d.resolution);
    const clean = spreadImages(held, r.n);
    const curves: OneShotCurve[] = [];
    for (const m of ms) {
      const runs: OneShotRow[][] = [];
      for (const seed of seeds) runs.push(await oneShotVsChain(m.d, clean, seed, measure));
      const rows = runs[0]!.map((row, i): OneShotPoint => {
        const at = runs.map((run) => run[i]!);
        return {
          t: row.t, steps: row.steps, oneShot: stat(at.map((x) => x.oneShot)), chain: stat(at.map((x) => x.chain)),
          oneShotSet: setStats(at.map((x) => x.oneShotSet)), chainSet: setStats(at.map((x) => x.chainSet)),
        };
      });
      curves.push({ modelId: m.id, name: m.name, kind: m.d.kind, parameters: m.d.parameters, rows });
    }
    return { seeds: r.seeds, bounds, curves };
  });
}

/** Experiment 2: first-step x0 vs final sample from the same noise, each set scored, over the seeds; the first 8 of each (first seed). */
export function firstStep(device: GPUDevice, r: ResearchRequest, job: JobContext): Promise<FirstStepStudyResult> {
  return withModels(device, 'firststep', r, Math.min(r.n, MAX_SAMPLE_BATCH), job, async (ms) => {
    const size = ms[0]!.d.resolution;
    const { seeds, measure, bounds } = await setting(r, size);
    const shown = Math.min(8, r.n), per = 3 * size * size;
    const results: FirstStepStudyResult['models'] = [];
    for (const m of ms) {
      const runs: FirstStepResult[] = [];
      for (const seed of seeds) runs.push(await firstStepStudy(m.d, r.n, seed, measure));
      const s = runs[0]!;
      results.push({
        modelId: m.id, name: m.name, kind: m.d.kind, parameters: m.d.parameters,
        first: setStats(runs.map((x) => x.first)), last: setStats(runs.map((x) => x.last)), mseFirstFinal: stat(runs.map((x) => x.mseFirstFinal)),
        firstX0: toPixels(s.firstX0.subarray(0, shown * per), 3, size),
        final: toPixels(s.final.subarray(0, shown * per), 3, size),
      });
    }
    return { n: r.n, seeds: r.seeds, bounds, models: results };
  });
}

/** The layered model of a budget spec, as a layered file's metadata: the time model's structure at width layeredCh, time-free. */
function layeredDescription(spec: BudgetSpec): SafetensorsFile {
  return layeredFile({
    model: { ...spec.timeConfig, ch: spec.layeredCh, use_time_embed: false, norm_groups: 'auto' },
    ch_num: [{ value: spec.layeredCh, num: spec.numBlock }],
    diffusion: { ...DEFAULT_DIFFUSION, num_block: spec.numBlock },
  });
}

function settingsOf(spec: BudgetSpec): BudgetSettings {
  return {
    evals: spec.evals, points: spec.points, samples: spec.samples, seed: spec.seed, timeBatch: spec.timeBatch,
    recipeBatch: spec.recipeBatch ?? DEFAULT_BUDGET.recipeBatch, layeredBatch: spec.layeredBatch,
    optimizer: { ...DEFAULT_OPTIMIZER, lr: spec.lr, emaRate: spec.emaRate },
  };
}

/** Experiment 3's rate on this adapter: every chosen arm trained for two steps, the second timed. */
export async function budgetRates(device: GPUDevice, spec: BudgetSpec, job: JobContext): Promise<{ arm: ArmKind; evalsPerSecond: number }[]> {
  if (spec.arms.length === 0) throw new Error('choose at least one arm');
  const settings = settingsOf(spec);
  checkBudget(settings);
  const layeredSpecFile = layeredDescription(spec);
  parseLayered(layeredSpecFile, 'the layered model');
  const data = await bundledEmoji(spec.timeConfig.resolution, 'train');
  const out: { arm: ArmKind; evalsPerSecond: number }[] = [];
  job.progress(0, spec.arms.length);
  for (const kind of spec.arms) {
    job.checkStop();
    const arm = budgetArm(device, kind, settings, data, { time: spec.timeConfig, diffusion: DEFAULT_DIFFUSION, layered: layeredSpecFile });
    try {
      await arm.trainSteps(1);
      const t0 = performance.now();
      await arm.trainSteps(1);
      out.push({ arm: kind, evalsPerSecond: arm.evalsPerStep / ((performance.now() - t0) / 1000) });
    } finally {
      arm.destroy();
    }
    job.progress(out.length, undefined, `arm ${kind}`);
  }
  return out;
}

/** Experiment 3: each arm in turn on the bundled emoji, every point saved to IndexedDB as it lands. */
export async function runBudget(device: GPUDevice, spec: BudgetSpec, job: JobContext, onUpdate: (run: BudgetRunEntry) => void): Promise<BudgetRunEntry> {
  if (spec.arms.length === 0) throw new Error('choose at least one arm');
  const settings = settingsOf(spec);
  checkBudget(settings);
  const size = spec.timeConfig.resolution;
  if (size !== 16 && size !== 32) throw new Error(`the bundled emoji are 16 or 32 px; the model is ${size} px`);
  const layeredSpecFile = layeredDescription(spec);
  const layered = parseLayered(layeredSpecFile, 'the layered model'); // validates before anything runs
  // The job counts training steps over all arms (the evaluation points' sampling runs between them);
  // an arm whose budget is fewer steps than points is refused here, before any arm trains.
  const steps = spec.arms.map((kind) => armSteps(settings, kind, evalsPerStep(kind, settings, layered)));
  job.progress(0, steps.reduce((a, b) => a + b, 0));
  const [data, held] = [await bundledEmoji(size, 'train'), await bundledEmoji(size, 'eval')];
  const measure = new SetMeasure(held.images, held.channels, size);
  let run = await store.saveBudgetRun({ id: `b-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, spec, points: [], state: 'running', created: Date.now(), updated: Date.now() });
  onUpdate(run);
  try {
    let before = 0;
    for (const [i, kind] of spec.arms.entries()) {
      if (job.stopped) break;
      const arm = budgetArm(device, kind, settings, data, { time: spec.timeConfig, diffusion: DEFAULT_DIFFUSION, layered: layeredSpecFile });
      try {
        await runArm(arm, settings, measure, async (p) => {
          run = await store.saveBudgetRun({ ...run, points: [...run.points, p] });
          onUpdate(run);
        }, { stopped: () => job.stopped, onSteps: (step) => job.progress(before + step, undefined, `arm ${kind}, step ${step}/${steps[i]}`), chunkSeconds: 0.5 });
      } finally {
        arm.destroy();
      }
      before += steps[i]!;
    }
    run = await store.saveBudgetRun({ ...run, state: job.stopped ? 'stopped' : 'done' });
  } catch (e) {
    run = await store.saveBudgetRun({ ...run, state: 'error', message: (e as Error).message });
    onUpdate(run);
    throw e;
  }
  onUpdate(run);
  return run;
}

export function budgetCsv(run: BudgetRunEntry): string {
  return [BUDGET_CSV_HEADER, ...run.points.map(budgetCsvRow)].join('\n') + '\n';
}
