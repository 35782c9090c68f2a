// The Research tab's side of the worker: the models the experiments can compare (every model of the
// library, time-conditioned or layered, bundled or not), experiments 1 and 2 on held-out emoji, and
// budget-comparison runs (experiment 3) kept in IndexedDB after every point.
import { DEFAULT_DIFFUSION } from '../diffusion/schedule';
import { checkBudget, checkExperiment, commonResolution, experimentDenoiser } from '../app/research';
import { MAX_SAMPLE_BATCH } from '../app/sampling';
import { fitGaussian, pooledFeatures } from '../eval/frechet';
import type { SafetensorsFile } from '../host/tensor';
import { armSteps, budgetArm, budgetCsvRow, BUDGET_CSV_HEADER, DEFAULT_BUDGET, evalsPerStep, runArm, type BudgetSettings } from '../research/budget';
import { firstStepStudy, imagesFd, oneShotVsChain, type StepDenoiser } from '../research/experiments';
import { layeredFile, parseLayered } from '../research/layered';
import { DEFAULT_OPTIMIZER } from '../train/optimizer';
import { spreadImages } from '../train/data';
import * as store from '../store/research';
import type { BudgetRunEntry, BudgetSpec } from '../store/research';
import type { FirstStepStudyResult, OneShotCurve, ResearchModelInfo, ResearchRequest } from './api';
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
 * A denoiser whose every evaluation (one batched forward) is a unit of the job, and which ends the
 * job on Stop: experiments 1 and 2 count and stop through it, unchanged.
 */
function counted(d: StepDenoiser, job: JobContext, count: { done: number }): StepDenoiser {
  return {
    kind: d.kind, seq: d.seq, abar: d.abar, channels: d.channels, resolution: d.resolution, batch: d.batch, parameters: d.parameters,
    async eps(t, x) {
      job.checkStop();
      const out = await d.eps(t, x);
      job.progress(++count.done, undefined, `t = ${t}`);
      return out;
    },
  };
}

/** The request checked (app/research.ts), then its models as denoisers of `batch` images, counted for the job. */
async function modelsOf(device: GPUDevice, kind: 'oneshot' | 'firststep', r: ResearchRequest, batch: number, job: JobContext): Promise<{ id: string; name: string; d: StepDenoiser }[]> {
  if (r.modelIds.length === 0) throw new Error('choose at least one model');
  checkExperiment(kind, r.n, r.numBlock, r.seed);
  const out = [];
  const count = { done: 0 };
  for (const id of r.modelIds) {
    const { entry, model } = await models.getModel(id);
    out.push({ id, name: entry.name, d: counted(experimentDenoiser(device, model, r.numBlock, batch), job, count) });
  }
  commonResolution(out.map((m) => m.d));
  // Evaluations: experiment 1 runs a chain of k steps from every step k of seq; experiment 2 a whole chain per batch of samples.
  const K = (d: StepDenoiser): number => d.seq.length - 1;
  job.progress(0, out.reduce((s, { d }) => s + (kind === 'oneshot' ? (K(d) * (K(d) + 1)) / 2 : Math.ceil(r.n / d.batch) * K(d)), 0));
  return out;
}

/** Experiment 1: one-shot x0 vs the chain from x_t, against t, on n held-out emoji. */
export async function oneShot(device: GPUDevice, r: ResearchRequest, job: JobContext): Promise<OneShotCurve[]> {
  const ms = await modelsOf(device, 'oneshot', r, r.n, job);
  const held = await bundledEmoji(ms[0]!.d.resolution, 'eval');
  const clean = spreadImages(held, r.n);
  const out: OneShotCurve[] = [];
  for (const m of ms) out.push({ modelId: m.id, name: m.name, kind: m.d.kind, parameters: m.d.parameters, rows: await oneShotVsChain(m.d, clean, r.seed) });
  return out;
}

/** Experiment 2: first-step x0 vs final sample from the same noise, FD of each set, and the first 8 of each. */
export async function firstStep(device: GPUDevice, r: ResearchRequest, job: JobContext): Promise<FirstStepStudyResult> {
  const ms = await modelsOf(device, 'firststep', r, Math.min(r.n, MAX_SAMPLE_BATCH), job);
  const size = ms[0]!.d.resolution;
  const [held, train] = [await bundledEmoji(size, 'eval'), await bundledEmoji(size, 'train')];
  const reference = fitGaussian(pooledFeatures(held.images, 3, size));
  const shown = Math.min(8, r.n), per = 3 * size * size;
  const results: FirstStepStudyResult['models'] = [];
  for (const m of ms) {
    const s = await firstStepStudy(m.d, r.n, r.seed, reference);
    results.push({
      modelId: m.id, name: m.name, kind: m.d.kind, parameters: m.d.parameters, fdFirst: s.fdFirst, fdFinal: s.fdFinal, mseFirstFinal: s.mseFirstFinal,
      firstX0: toPixels(s.firstX0.subarray(0, shown * per), 3, size),
      final: toPixels(s.final.subarray(0, shown * per), 3, size),
    });
  }
  return { n: r.n, fdReal: imagesFd(spreadImages(train, Math.min(r.n, train.count)), 3, size, reference), models: results };
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

/** Experiment 3: each arm in turn on the bundled emoji, every point saved to IndexedDB as it lands. */
export async function runBudget(device: GPUDevice, spec: BudgetSpec, job: JobContext, onUpdate: (run: BudgetRunEntry) => void): Promise<BudgetRunEntry> {
  if (spec.arms.length === 0) throw new Error('choose at least one arm');
  const settings = settingsOf(spec);
  checkBudget(settings);
  const size = spec.timeConfig.resolution;
  if (size !== 16 && size !== 32) throw new Error(`the bundled emoji are 16 or 32 px; the model is ${size} px`);
  const layeredSpecFile = layeredDescription(spec);
  const layered = parseLayered(layeredSpecFile, 'the layered model'); // validates before anything runs
  // The job counts training steps over all arms (the evaluation points' sampling runs between them).
  const steps = spec.arms.map((kind) => armSteps(settings, evalsPerStep(kind, settings, layered)));
  job.progress(0, steps.reduce((a, b) => a + b, 0));
  const [data, held] = [await bundledEmoji(size, 'train'), await bundledEmoji(size, 'eval')];
  const reference = fitGaussian(pooledFeatures(held.images, 3, size));
  let run = await store.saveBudgetRun({ id: `b-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, spec, points: [], state: 'running', created: Date.now(), updated: Date.now() });
  onUpdate(run);
  try {
    let before = 0;
    for (const [i, kind] of spec.arms.entries()) {
      if (job.stopped) break;
      const arm = budgetArm(device, kind, settings, data, { time: spec.timeConfig, diffusion: DEFAULT_DIFFUSION, layered: layeredSpecFile });
      await runArm(arm, settings, reference, async (p) => {
        run = await store.saveBudgetRun({ ...run, points: [...run.points, p] });
        onUpdate(run);
      }, { stopped: () => job.stopped, onSteps: (step) => job.progress(before + step, undefined, `arm ${kind}, step ${step}/${steps[i]}`), chunkSeconds: 0.5 });
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
