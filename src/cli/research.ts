// `ddim research train`: trains a layered model (one time-free UNet per DDIM step) on the bundled
// emoji or a folder of images, per step ("layer") or end to end through the chain ("end2end", with
// ground truth D, A or B), and writes its EMA weights as a layered file.
//   ddim research train --config L.json | --init L.safetensors --mode layer|end2end [--gt D|A|B] [--use-true-x-as-x] [--loss-weights]
//                       --data emoji16|DIR --steps N [--batch 16] [--lr 2e-4] [--ema 0.9999] [--grad-clip 1] [--seed 0] --out L.safetensors
// L.json: {"model": {...fields shared by the sub-models}, "ch_num": [...], "diffusion": {..., "num_block": 4}}
// (ch_num and the optional ch_mult_num per step, plainly or run-length: [{"value": 32, "num": 50}, ...]).
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import type { SafetensorsFile } from '../io/safetensors';
import { parseLayered, LAYERED_FORMAT } from '../research/layered';
import { LayeredTrainer, initLayered } from '../research/trainer';
import { GROUND_TRUTHS, type GroundTruth } from '../research/truth';
import { DEFAULT_OPTIMIZER } from '../train/step';
import { numberArg, parseArgs } from './args';
import { loadData, readSafetensors, writeSafetensors } from './files';
import type { CommandContext } from './commands';

const CMD = 'ddim research train';

/** A layered model description from L.json, as the metadata of a layered file. */
function configFile(path: string): SafetensorsFile {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path}: cannot read the layered config (${(e as Error).message})`);
  }
  const metadata: Record<string, string> = { format: LAYERED_FORMAT };
  for (const key of ['model', 'ch_num', 'ch_mult_num', 'diffusion']) if (raw[key] !== undefined) metadata[key] = JSON.stringify(raw[key]);
  return { tensors: new Map(), metadata, dtypes: new Map() };
}

export async function researchCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'train') throw new Error(`ddim research: unknown subcommand "${sub ?? ''}" (known: train)`);
  const args = parseArgs(rest, {
    values: ['config', 'init', 'mode', 'gt', 'data', 'steps', 'batch', 'lr', 'ema', 'grad-clip', 'seed', 'out'],
    flags: ['no-flip', 'use-true-x-as-x', 'loss-weights'],
    required: ['mode', 'data', 'steps', 'out'],
  }, CMD);
  const mode = args.values.get('mode')!;
  if (mode !== 'layer' && mode !== 'end2end') throw new Error(`${CMD}: --mode must be layer or end2end, got "${mode}"`);
  const gt = (args.values.get('gt') ?? 'D') as GroundTruth;
  if (!GROUND_TRUTHS.includes(gt)) throw new Error(`${CMD}: --gt must be one of ${GROUND_TRUTHS.join(', ')}, got "${gt}"`);
  const [configPath, initPath] = [args.values.get('config'), args.values.get('init')];
  if (mode === 'layer' && (args.values.has('gt') || args.flags.has('use-true-x-as-x') || args.flags.has('loss-weights'))) {
    throw new Error(`${CMD}: --gt, --use-true-x-as-x and --loss-weights apply to --mode end2end only`);
  }
  if (!configPath === !initPath) throw new Error(`${CMD}: give either --config L.json (a new model) or --init L.safetensors (continue one)`);
  const source = (configPath ?? initPath)!;
  const file = configPath ? configFile(configPath) : readSafetensors(initPath!);
  const model = parseLayered(file, source);
  const steps = numberArg(args, 'steps', 0, CMD);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`${CMD}: --steps must be a positive integer, got ${steps}`);
  const seed = numberArg(args, 'seed', 0, CMD);
  const options = {
    ...DEFAULT_OPTIMIZER,
    lr: numberArg(args, 'lr', DEFAULT_OPTIMIZER.lr, CMD),
    emaRate: numberArg(args, 'ema', DEFAULT_OPTIMIZER.emaRate, CMD),
    gradClip: numberArg(args, 'grad-clip', DEFAULT_OPTIMIZER.gradClip, CMD),
    mode, groundTruth: gt, useTrueXAsX: args.flags.has('use-true-x-as-x'), lossWeights: args.flags.has('loss-weights'), batch: numberArg(args, 'batch', 16, CMD), seed, randomFlip: !args.flags.has('no-flip'),
  } as const;
  const c = model.configs.get(model.seq[0]!)!;
  const data = await loadData(args.values.get('data')!, 'train', c.resolution, `${CMD}: --data`);
  const trainer = new LayeredTrainer(ctx.device, model, options, data, configPath ? initLayered(model, seed) : file.tensors);
  const out = args.values.get('out')!;
  const logPath = out.replace(/\.safetensors$/, '') + '.loss.csv';
  const K = model.seq.length - 1; // one loss per trained sub-model (layer) or chain step (end2end)
  writeFileSync(logPath, `step,${Array.from({ length: K }, (_, k) => `loss${k}`).join(',')},total\n`);
  ctx.log(`${mode}${mode === 'end2end' ? ` (ground truth ${gt})` : ''}: ${model.seq.length - 1} sub-models trained (t = ${model.seq.slice(1).join(', ')}), ${data.count} images`);
  const start = performance.now();
  while (trainer.step < steps) {
    const losses = await trainer.trainSteps(Math.min(10, steps - trainer.step));
    const s0 = trainer.step - losses.length;
    appendFileSync(logPath, losses.map((l, i) => `${s0 + i + 1},${Array.from(l).join(',')},${l.reduce((a, b) => a + b, 0)}\n`).join(''));
    const total = losses.map((l) => l.reduce((a, b) => a + b, 0));
    const secs = (performance.now() - start) / 1000;
    ctx.log(`step ${trainer.step}/${steps}  loss ${(total.reduce((a, b) => a + b, 0) / total.length).toFixed(3)}  ${((trainer.step * options.batch) / secs).toFixed(2)} img/s`);
  }
  const w = await trainer.weights(file.metadata);
  writeSafetensors(out, w.tensors, w.metadata);
  ctx.log(`wrote the EMA weights (step ${trainer.step}) to ${out}; losses in ${logPath}`);
}
