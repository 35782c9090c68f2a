// `ddim research oneshot | firststep | budget`: the experiments of src/research/experiments.ts and
// budget.ts on the command line, printed as tables and written as CSV.
//   oneshot   --weights A.safetensors[,B.safetensors...] --data emoji16|DIR [--n 32] [--seed 0] [--num-block K] [--csv OUT.csv]
//   firststep --weights A.safetensors[,B...] --data emoji16|DIR [--n 128] [--seed 0] [--num-block K] [--csv OUT.csv] [--png OUT.png]
//   budget    --data emoji16|DIR --evals E --layered-config L.json [--time-config tiny|config.json] [--arms time,layer,end2end]
//             [--points 5] [--samples 64] [--time-batch 64] [--layered-batch 16] [--lr 1e-3] [--ema 0.999] [--seed 0]
//             --csv OUT.csv [--out-dir DIR]
// A weights file is a time-conditioned model (its chain: range(0, T, T // K), K from --num-block, else
// the layered model's, else 10) or a layered file (its own seq); `ideal:DATA` (emoji16, emoji32, a
// folder) is the ideal denoiser of that data set's training images, on the time-conditioned chain.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DEFAULT_DIFFUSION } from '../diffusion/schedule';
import { checkBudget, checkExperiment, commonResolution, experimentDenoiser } from '../app/research';
import type { ModelFile } from '../app/model-files';
import { MAX_SAMPLE_BATCH } from '../app/sampling';
import { imageGrid } from '../io/grid';
import { encodePng } from '../io/png';
import { ARM_KINDS, BUDGET_CSV_HEADER, DEFAULT_BUDGET, armSteps, budgetArm, evalsPerStep, budgetCsvRow, runArm, type ArmKind, type BudgetSettings } from '../research/budget';
import { firstStepStudy, oneShotVsChain, scoreBounds, type StepDenoiser } from '../research/experiments';
import { RELIABLE_FD_N, SetMeasure, type SetScores } from '../eval/sets';
import { parseLayered } from '../research/layered';
import { spreadImages, type ImageDataset } from '../train/data';
import { numberArg, parseArgs, type ParsedArgs } from './args';
import type { CommandContext } from './commands';
import { loadData, openModelArg, writeSafetensors } from './files';
import { layeredConfigFile } from './layered';
import { loadConfig } from './train';

/**
 * The models of --weights (read and checked before any GPU work) and the chain of the
 * time-conditioned ones: --num-block, else the layered models' own, else 10; the request checked as
 * the Research tab's is (app/research.ts).
 */
async function experiment(args: ParsedArgs, kind: 'oneshot' | 'firststep', n: number, cmd: string): Promise<{ models: { path: string; m: ModelFile }[]; numBlock: number; seed: number }> {
  const models: { path: string; m: ModelFile }[] = [];
  for (const path of args.values.get('weights')!.split(',').filter(Boolean)) models.push({ path, m: await openModelArg(path, `${cmd}: --weights ${path}`) });
  const blocks = new Set(models.flatMap(({ m }) => (m.kind === 'layered' ? [m.model.numBlock] : [])));
  const given = args.values.has('num-block') ? numberArg(args, 'num-block', 10, cmd) : undefined;
  if (given === undefined && blocks.size > 1) throw new Error(`${cmd}: the layered models have different num_block; give --num-block for the time-conditioned ones`);
  const numBlock = given ?? [...blocks][0] ?? 10;
  const seed = numberArg(args, 'seed', 0, cmd);
  named(cmd, () => checkExperiment(kind, n, numBlock, seed));
  return { models, numBlock, seed };
}

/** Runs a check of app/research.ts (the Research tab's words), naming the subcommand in its error. */
function named(cmd: string, check: () => void): void {
  try {
    check();
  } catch (e) {
    throw new Error(`${cmd}: ${(e as Error).message}`);
  }
}

/** The denoisers of `batch` images, of one image size, and the held-out images at that size. */
async function denoisers(device: GPUDevice, args: ParsedArgs, e: Awaited<ReturnType<typeof experiment>>, batch: number, cmd: string): Promise<{ models: { name: string; d: StepDenoiser }[]; held: ImageDataset }> {
  const models = e.models.map(({ path, m }) => ({ name: path.startsWith('ideal:') ? path : basename(path), d: experimentDenoiser(device, m, e.numBlock, batch) }));
  const size = commonResolution(models.map((m) => m.d));
  return { models, held: await loadData(args.values.get('data')!, 'eval', size, `${cmd}: --data`) };
}

async function oneShot(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const cmd = 'ddim research oneshot';
  const args = parseArgs(argv, { values: ['weights', 'data', 'n', 'seed', 'num-block', 'csv'], required: ['weights', 'data'] }, cmd);
  const n = numberArg(args, 'n', 32, cmd);
  const e = await experiment(args, 'oneshot', n, cmd);
  const { device } = await ctx.gpu();
  const { models, held } = await denoisers(device, args, e, n, cmd);
  if (n > held.count) throw new Error(`${cmd}: --n ${n} is more than the ${held.count} held-out images`);
  const clean = spreadImages(held, n);
  const measure = new SetMeasure(held.images, held.channels, held.resolution);
  const train = await loadData(args.values.get('data')!, 'train', held.resolution, `${cmd}: --data`);
  const bounds = scoreBounds(measure, train, n, [e.seed]);
  ctx.log(`MSE per value vs the clean image; FD of the ${n} predictions vs the ${held.count} held-out images (at n = ${n}: ${n} training images score ${bounds.real.fd.mean.toFixed(2)}, ${n} noises ${bounds.noise.fd.mean.toFixed(2)}${n < RELIABLE_FD_N ? `; below n = ${RELIABLE_FD_N} the FD is biased upwards: compare with these only` : ''}); roughness 1 = as sharp as the held-out images`);
  const csv = ['model,kind,t,chain_steps,one_shot_mse,chain_mse,one_shot_fd,chain_fd,one_shot_roughness,chain_roughness,fd_real,fd_noise'];
  for (const { name, d } of models) {
    ctx.log(`${name} (${d.kind}, ${d.parameters.toLocaleString('en-US')} parameters)`);
    ctx.log('     t  steps   one-shot MSE    FD  rough     chain MSE    FD  rough');
    for (const r of await oneShotVsChain(d, clean, e.seed, measure)) {
      const cells = (mse: number, s: SetScores): string => `${mse.toFixed(5).padStart(14)}${s.fd.toFixed(1).padStart(6)}${s.roughness.toFixed(2).padStart(7)}`;
      ctx.log(`${String(r.t).padStart(6)} ${String(r.steps).padStart(6)}${cells(r.oneShot, r.oneShotSet)}${cells(r.chain, r.chainSet)}`);
      csv.push([name, d.kind, r.t, r.steps, r.oneShot, r.chain, r.oneShotSet.fd, r.chainSet.fd, r.oneShotSet.roughness, r.chainSet.roughness, bounds.real.fd.mean, bounds.noise.fd.mean].join(','));
    }
  }
  const out = args.values.get('csv');
  if (out) {
    writeFileSync(out, csv.join('\n') + '\n');
    ctx.log(`wrote ${out}`);
  }
}

async function firstStep(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const cmd = 'ddim research firststep';
  const args = parseArgs(argv, { values: ['weights', 'data', 'n', 'seed', 'num-block', 'csv', 'png'], required: ['weights', 'data'] }, cmd);
  const n = numberArg(args, 'n', 128, cmd);
  const e = await experiment(args, 'firststep', n, cmd);
  const { device } = await ctx.gpu();
  const { models, held } = await denoisers(device, args, e, Math.min(n, MAX_SAMPLE_BATCH), cmd);
  const train = await loadData(args.values.get('data')!, 'train', held.resolution, `${cmd}: --data`);
  const measure = new SetMeasure(held.images, held.channels, held.resolution);
  const { real, noise } = scoreBounds(measure, train, n, [e.seed]);
  ctx.log(`Fréchet distance of 8x8 pooled pixels vs ${held.count} held-out images; at n = ${n}, ${Math.min(n, train.count)} training images score ${real.fd.mean.toFixed(2)} and ${n} noises ${noise.fd.mean.toFixed(2)}${n < RELIABLE_FD_N ? ` (below n = ${RELIABLE_FD_N} the FD is biased upwards: compare with these only)` : ''}`);
  ctx.log('roughness: 1 = as sharp as the held-out images (below: blurred, above: noisy); spread: per-value std across samples (0: one picture)');
  const w = Math.max(6, ...models.map((m) => m.name.length)) + 2;
  ctx.log(`${'model'.padEnd(w)}kind      FD first x0   final   rough first  final   spread first  final   MSE(first, final)`);
  const csv = ['model,kind,parameters,n,fd_first_x0,fd_final,mse_first_final,fd_real,fd_noise,roughness_first,roughness_final,spread_first,spread_final'];
  const grids: Float32Array[] = [];
  for (const { name, d } of models) {
    const r = await firstStepStudy(d, n, e.seed, measure);
    ctx.log(`${name.padEnd(w)}${d.kind.padEnd(10)}${r.first.fd.toFixed(2).padStart(11)}${r.last.fd.toFixed(2).padStart(8)}${r.first.roughness.toFixed(2).padStart(13)}${r.last.roughness.toFixed(2).padStart(7)}${r.first.spread.toFixed(3).padStart(14)}${r.last.spread.toFixed(3).padStart(7)}${r.mseFirstFinal.toFixed(4).padStart(20)}`);
    csv.push([name, d.kind, d.parameters, n, r.first.fd, r.last.fd, r.mseFirstFinal, real.fd.mean, noise.fd.mean, r.first.roughness, r.last.roughness, r.first.spread, r.last.spread].join(','));
    const per = d.channels * d.resolution * d.resolution, cols = Math.min(n, 16);
    grids.push(r.firstX0.slice(0, cols * per), r.final.slice(0, cols * per));
  }
  const out = args.values.get('csv');
  if (out) {
    writeFileSync(out, csv.join('\n') + '\n');
    ctx.log(`wrote ${out}`);
  }
  const png = args.values.get('png');
  if (png) {
    // Two rows per model: the first step's x0, then the final sample from the same noise.
    const cols = Math.min(n, 16), all = new Float32Array(grids.reduce((s, g) => s + g.length, 0));
    grids.reduce((o, g) => (all.set(g, o), o + g.length), 0);
    const grid = imageGrid(all, held.channels, held.resolution, grids.length, cols);
    writeFileSync(png, await encodePng(grid.width, grid.height, grid.data));
    ctx.log(`wrote ${png}: per model, a row of first-step x0 and a row of final samples`);
  }
}

async function budget(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const cmd = 'ddim research budget';
  const args = parseArgs(argv, {
    values: ['data', 'evals', 'layered-config', 'time-config', 'arms', 'points', 'samples', 'time-batch', 'recipe-batch', 'layered-batch', 'lr', 'ema', 'seed', 'csv', 'out-dir'],
    required: ['data', 'evals', 'layered-config', 'csv'],
  }, cmd);
  const b = DEFAULT_BUDGET;
  const s: BudgetSettings = {
    evals: numberArg(args, 'evals', b.evals, cmd), points: numberArg(args, 'points', b.points, cmd), samples: numberArg(args, 'samples', b.samples, cmd),
    seed: numberArg(args, 'seed', b.seed, cmd), timeBatch: numberArg(args, 'time-batch', b.timeBatch, cmd),
    recipeBatch: numberArg(args, 'recipe-batch', b.recipeBatch, cmd), layeredBatch: numberArg(args, 'layered-batch', b.layeredBatch, cmd),
    optimizer: { ...b.optimizer, lr: numberArg(args, 'lr', b.optimizer.lr, cmd), emaRate: numberArg(args, 'ema', b.optimizer.emaRate, cmd) },
  };
  named(cmd, () => checkBudget(s));
  const arms = (args.values.get('arms') ?? ARM_KINDS.join(',')).split(',') as ArmKind[];
  const bad = arms.filter((a) => !ARM_KINDS.includes(a));
  if (bad.length) throw new Error(`${cmd}: --arms takes ${ARM_KINDS.join(', ')}; got ${bad.join(', ')}`);
  const layeredPath = args.values.get('layered-config')!;
  const layeredFile = layeredConfigFile(layeredPath);
  const layered = parseLayered(layeredFile, layeredPath);
  const time = loadConfig(args.values.get('time-config') ?? 'tiny');
  // Every arm's budget in steps, checked before any arm trains.
  for (const kind of arms) named(cmd, () => armSteps(s, kind, evalsPerStep(kind, s, layered)));
  const c = layered.configs.get(layered.seq[0]!)!;
  if (time.resolution !== c.resolution) throw new Error(`${cmd}: the time-conditioned model is ${time.resolution} px, the layered model ${c.resolution} px`);
  const data = await loadData(args.values.get('data')!, 'train', c.resolution, `${cmd}: --data`);
  const held = await loadData(args.values.get('data')!, 'eval', c.resolution, `${cmd}: --data`);
  const measure = new SetMeasure(held.images, held.channels, held.resolution);
  const csvPath = args.values.get('csv')!;
  writeFileSync(csvPath, BUDGET_CSV_HEADER + '\n');
  ctx.log(`budget: ${s.evals.toLocaleString('en-US')} image-gradient evaluations per arm, ${s.points} points, FD of ${s.samples} samples over the chain ${[...layered.seq].reverse().join(' -> ')}`);
  ctx.log('arm        params     step      evals  train s       loss       FD');
  const outDir = args.values.get('out-dir');
  if (outDir) mkdirSync(outDir, { recursive: true });
  const { device } = await ctx.gpu();
  for (const kind of arms) {
    const arm = budgetArm(device, kind, s, data, { time, diffusion: DEFAULT_DIFFUSION, layered: layeredFile });
    await runArm(arm, s, measure, (p) => {
      appendFileSync(csvPath, budgetCsvRow(p) + '\n');
      ctx.log(`${p.arm.padEnd(8)}${p.parameters.toLocaleString('en-US').padStart(10)}${String(p.step).padStart(9)}${p.evals.toLocaleString('en-US').padStart(11)}${p.trainSeconds.toFixed(1).padStart(9)}${(p.loss < 1e5 ? p.loss.toFixed(3) : p.loss.toExponential(3)).padStart(11)}${p.fd.toFixed(2).padStart(9)}`);
    });
    if (outDir) {
      const ckpt = await arm.checkpoint();
      writeSafetensors(join(outDir, `${kind}.safetensors`), ckpt.tensors, ckpt.metadata);
    }
    arm.destroy();
  }
  ctx.log(`wrote ${csvPath}`);
}

export const EXPERIMENTS: Record<string, (argv: readonly string[], ctx: CommandContext) => Promise<void>> = {
  oneshot: oneShot,
  firststep: firstStep,
  budget,
};
