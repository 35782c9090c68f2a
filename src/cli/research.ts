// `ddim research train`: trains a layered model (one time-free UNet per DDIM step) on the bundled
// emoji or a folder of images, per step ("layer") or end to end through the chain ("end2end", with
// ground truth D, A or B), and writes its EMA weights as a layered file.
//   ddim research train --config L.json | --init L.safetensors --mode layer|end2end [--gt D|A|B] [--use-true-x-as-x] [--loss-weights]
//                       [--correction [--detach]] --data emoji16|DIR --steps N [--batch 16] [--lr 2e-4] [--ema 0.9999] [--grad-clip 1]
//                       [--seed 0] [--precision fp32|f16|matrix|matrix-emulated] --out CKPT.safetensors
//   ddim research train --resume CKPT.safetensors --data emoji16|DIR --steps N --out CKPT.safetensors   (N more steps, same settings)
// In the reduced-precision tiers the run has a dynamic loss scale (train/loss-scale.ts), as `ddim train`.
// The output is a layered file of EMA weights (it samples as it is) that also holds the optimizer state.
// L.json: {"model": {...fields shared by the sub-models}, "ch_num": [...], "diffusion": {..., "num_block": 4}}
// (ch_num and the optional ch_mult_num per step, plainly or run-length: [{"value": 32, "num": 50}, ...]).
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import type { HostTensor } from '../host/tensor';
import { trainUntil } from '../train/loop';
import { checkRunSteps } from '../app/training';
import { parseLayered } from '../research/layered';
import { LayeredTrainer, initLayered, type LayeredObjective, type LayeredTrainOptions } from '../research/trainer';
import { DEFAULT_OPTIMIZER } from '../train/optimizer';
import { checkFits, describeMemory, type TrainingMemory } from '../train/memory';
import { layeredTrainingMemory } from '../research/memory';
import { numberArg, parseArgs, precisionArg, type ParsedArgs } from './args';
import { loadData, readSafetensors, writeSafetensors } from './files';
import type { CommandContext } from './commands';
import { OBJECTIVE_FLAGS, OBJECTIVE_VALUES, layeredConfigFile, objectiveArgs } from './layered';
import { EXPERIMENTS } from './experiments';
import { logTier, skipsNote } from './train';
import { own } from '../host/own';

const CMD = 'ddim research train';

export async function researchCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const [sub, ...rest] = argv;
  const run = own(SUBCOMMANDS, sub ?? '');
  if (!run) throw new Error(`ddim research: unknown subcommand "${sub ?? ''}" (known: ${Object.keys(SUBCOMMANDS).join(', ')})`);
  await run(rest, ctx);
}

async function researchTrain(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, {
    values: ['config', 'init', 'resume', 'data', 'steps', 'batch', 'lr', 'ema', 'grad-clip', 'seed', 'out', 'precision', ...OBJECTIVE_VALUES],
    flags: ['no-flip', ...OBJECTIVE_FLAGS],
    required: ['data', 'steps', 'out'],
  }, CMD);
  const [configPath, initPath, resumePath] = [args.values.get('config'), args.values.get('init'), args.values.get('resume')];
  if ([configPath, initPath, resumePath].filter(Boolean).length !== 1) {
    throw new Error(`${CMD}: give one of --config L.json (a new model), --init L.safetensors (new training from its weights) or --resume CKPT.safetensors (continue a run)`);
  }
  const steps = checkRunSteps(numberArg(args, 'steps', 0, CMD), '--steps');
  const precision = precisionArg(args, CMD);
  // A new run's flags are checked before any file, data or GPU work.
  const fresh = resumePath ? undefined : newRunOptions(args);
  const source = (configPath ?? initPath ?? resumePath)!;
  const file = configPath ? layeredConfigFile(configPath) : readSafetensors(source);
  const model = parseLayered(file, source);
  const c = model.configs.get(model.seq[0]!)!;
  const data = await loadData(args.values.get('data')!, 'train', c.resolution, `${CMD}: --data`);
  // Known before the big buffers exist: refuse here rather than fail inside the allocation.
  const { device, tier } = await ctx.gpu(precision);
  logTier(ctx, tier);
  const checkMemory = (o: LayeredTrainOptions, initial: Map<string, HostTensor>): TrainingMemory => {
    const memory = layeredTrainingMemory(device, model, o, initial);
    checkFits(memory, device.limits, 'this layered model', o.batch);
    return memory;
  };
  let trainer: LayeredTrainer;
  let memory: TrainingMemory;
  if (resumePath) {
    const given = [...args.values.keys()].filter((k) => !['resume', 'data', 'steps', 'out', 'precision'].includes(k)).concat([...args.flags]);
    if (given.length > 0) throw new Error(`${CMD}: --resume continues with the run's own settings; drop ${given.map((k) => `--${k}`).join(', ')}`);
    memory = checkMemory(LayeredTrainer.saved(file, resumePath).options, file.tensors);
    trainer = LayeredTrainer.resume(device, file, resumePath, data);
    ctx.log(`resumed ${resumePath} at step ${trainer.step}`);
  } else {
    const options = fresh!;
    const initial = configPath ? initLayered(model, options.seed) : file.tensors;
    memory = checkMemory(options, initial);
    trainer = new LayeredTrainer(device, model, options, data, initial);
  }
  const o = trainer.options;
  ctx.log(`layered model: ${describeMemory(memory, o.batch)}`);
  const out = args.values.get('out')!;
  const logPath = out.replace(/\.safetensors$/, '') + '.loss.csv';
  const K = model.seq.length - 1; // one loss per trained sub-model (layer) or chain step (end2end)
  if (!resumePath || !existsSync(logPath)) writeFileSync(logPath, `step,${Array.from({ length: K }, (_, k) => `loss${k}`).join(',')},total\n`);
  ctx.log(`${describeObjective(o)}: ${K} sub-models trained (t = ${model.seq.slice(1).join(', ')}), ${data.count} images`);
  const start = performance.now(), first = trainer.step, end = first + steps;
  await trainUntil(trainer, end, { most: () => 10 }, ({ losses }) => {
    const s0 = trainer.step - losses.length;
    appendFileSync(logPath, losses.map((l, i) => `${s0 + i + 1},${Array.from(l).join(',')},${l.reduce((a, b) => a + b, 0)}\n`).join(''));
    const total = losses.map((l) => l.reduce((a, b) => a + b, 0));
    const secs = (performance.now() - start) / 1000;
    ctx.log(`step ${trainer.step}/${end}  loss ${(total.reduce((a, b) => a + b, 0) / total.length).toFixed(3)}  ${(((trainer.step - first) * o.batch) / secs).toFixed(2)} img/s${skipsNote(trainer.skippedSteps)}`);
  });
  const ckpt = await trainer.checkpoint(file.metadata);
  writeSafetensors(out, ckpt.tensors, ckpt.metadata);
  ctx.log(`wrote the EMA weights and the optimizer state (step ${trainer.step}) to ${out}; losses in ${logPath}`);
}

/** "end2end (ground truth D, correction, loss weights)": the objective in words, for logs and charts. */
function newRunOptions(args: ParsedArgs): LayeredTrainOptions {
  if (!args.values.has('mode')) throw new Error(`${CMD}: missing --mode (layer or end2end)`);
  return {
    ...DEFAULT_OPTIMIZER,
    lr: numberArg(args, 'lr', DEFAULT_OPTIMIZER.lr, CMD),
    emaRate: numberArg(args, 'ema', DEFAULT_OPTIMIZER.emaRate, CMD),
    gradClip: numberArg(args, 'grad-clip', DEFAULT_OPTIMIZER.gradClip, CMD),
    ...objectiveArgs(args, CMD), batch: numberArg(args, 'batch', 16, CMD), seed: numberArg(args, 'seed', 0, CMD), randomFlip: !args.flags.has('no-flip'),
  };
}

export function describeObjective(o: LayeredObjective): string {
  if (o.mode === 'layer') return 'layer';
  const extras = [`ground truth ${o.groundTruth}`, o.useTrueXAsX && 'use_true_x_as_x', o.lossWeights && 'loss weights 1/abar_t',
    o.correction && `correction${o.correction.detach ? ' (detached)' : ''}`].filter(Boolean);
  return `end2end (${extras.join(', ')})`;
}

const SUBCOMMANDS: Record<string, (argv: readonly string[], ctx: CommandContext) => Promise<void>> = {
  train: researchTrain,
  ...EXPERIMENTS,
};
