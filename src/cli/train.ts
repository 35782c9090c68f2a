// `ddim train`: train a UNet on the bundled emoji, with progress, a loss log and resumable checkpoints.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { DEFAULT_DIFFUSION } from '../diffusion/schedule';
import { parseConfig, type UNetConfig } from '../nn/config';
import { preset } from '../nn/presets';
import { trainUntil } from '../train/loop';
import { DEFAULT_RECIPE } from '../train/recipe';
import { DEFAULT_OPTIMIZER } from '../train/optimizer';
import { Trainer, checkTrainerOptions } from '../train/trainer';
import { describeMemory, type TrainingMemory } from '../train/memory';
import { checkRunSteps, lossScaleSkipsText, milestoneMismatch, resumeTraining, runExpectation, runWarnings, startTraining } from '../app/training';
import { ProgressMeter, countOf, formatDuration } from '../app/progress';
import { bundledEmojiSize } from '../train/emoji';
import { numberArg, parseArgs, precisionArg } from './args';
import { loadData, readSafetensors, writeSafetensors } from './files';
import type { CommandContext } from './commands';
import type { Tier } from '../gpu/tier';

const CMD = 'ddim train';

/** The flag of each trainer option, for its error messages. */
const FLAG_OF = {
  lr: '--lr', emaRate: '--ema', gradClip: '--grad-clip', batch: '--batch', seed: '--seed', warmupSteps: '--warmup', lrDecay: '--lr-decay',
  decaySteps: '--decay-steps', lrMin: '--lr-min', lossWeight: '--loss-weight', snrGamma: '--snr-gamma',
} as const;

/** A model config: a preset name or a config.json. */
export function loadConfig(spec: string): UNetConfig {
  if (!spec.endsWith('.json')) return preset(spec);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(spec, 'utf8'));
  } catch (e) {
    throw new Error(`${spec}: cannot read the model config (${(e as Error).message})`);
  }
  return parseConfig(raw, spec);
}

export async function trainCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, {
    values: ['data', 'config', 'steps', 'batch', 'lr', 'ema', 'grad-clip', 'warmup', 'lr-decay', 'decay-steps', 'lr-min', 'loss-weight', 'snr-gamma', 'seed', 'resume', 'out', 'log-every', 'precision'],
    flags: ['no-flip', 'no-ema-warmup'],
    required: ['data', 'out', 'steps'],
  }, CMD);
  const steps = checkRunSteps(numberArg(args, 'steps', 0, CMD), '--steps');
  const out = args.values.get('out')!;
  if (!out.endsWith('.safetensors')) throw new Error(`${CMD}: --out ${out}: a training checkpoint is a .safetensors file`);
  const resume = args.values.get('resume');
  // A resumed run is the checkpoint's: its model, data size and recipe (as in `ddim research train`).
  const settings = ['config', ...Object.values(FLAG_OF).map((f) => f.slice(2))].filter((n) => args.values.has(n));
  const switches = ['no-flip', 'no-ema-warmup'].filter((n) => args.flags.has(n));
  if (resume && settings.length + switches.length > 0) {
    throw new Error(`${CMD}: --resume continues with the run's own settings; drop ${[...settings, ...switches].map((n) => `--${n}`).join(', ')}`);
  }
  const chunk = numberArg(args, 'log-every', 10, CMD);
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new Error(`${CMD}: --log-every must be a whole number of steps from 1, got ${chunk}`);
  const checkpoint = resume ? readSafetensors(resume) : undefined;
  const saved = checkpoint ? Trainer.saved(checkpoint, resume!) : undefined;
  const dataName = args.values.get('data')!;
  // A folder of images is resized to the model; the bundled emoji pick the default model instead.
  const config = saved?.config ?? loadConfig(args.values.get('config') ?? ((bundledEmojiSize(dataName) ?? 16) === 16 ? 'bundled' : 'small'));
  const data = await loadData(dataName, 'train', config.resolution, `${CMD}: --data`);
  // The recipe the search picked (train/recipe.ts), each part of it a flag; the decay spans the run.
  // checkTrainerOptions, the Train tab's check too, validates them before the GPU is acquired.
  const r = DEFAULT_RECIPE;
  const options = saved?.options ?? checkTrainerOptions({
    ...DEFAULT_OPTIMIZER,
    lr: numberArg(args, 'lr', r.lr, CMD),
    emaRate: numberArg(args, 'ema', r.emaRate, CMD),
    gradClip: numberArg(args, 'grad-clip', DEFAULT_OPTIMIZER.gradClip, CMD),
    batch: numberArg(args, 'batch', r.batch, CMD),
    seed: numberArg(args, 'seed', 0, CMD),
    warmupSteps: numberArg(args, 'warmup', r.warmupSteps, CMD),
    lrDecay: args.values.get('lr-decay') ?? r.lrDecay,
    decaySteps: numberArg(args, 'decay-steps', steps, CMD),
    lrMin: numberArg(args, 'lr-min', r.lrMin, CMD),
    emaWarmup: !args.flags.has('no-ema-warmup'),
    lossWeight: args.values.get('loss-weight') ?? r.lossWeight,
    snrGamma: numberArg(args, 'snr-gamma', r.snrGamma, CMD),
    randomFlip: !args.flags.has('no-flip'),
  }, CMD, FLAG_OF);
  ctx.log(`data: ${data.count.toLocaleString('en-US')} training images of ${dataName} at ${config.resolution} px${bundledEmojiSize(dataName) ? '' : ' (PNG, JPEG and WebP files; every 10th is held out for evaluation)'}`);
  const { device, tier } = await ctx.gpu(precisionArg(args, CMD));
  logTier(ctx, tier);
  const onPlan = (memory: TrainingMemory, batch: number): void => ctx.log(`model: ${describeMemory(memory, batch)}`);
  const { trainer } = checkpoint
    ? resumeTraining(device, checkpoint, resume!, data, onPlan)
    : startTraining(device, { config, diffusion: DEFAULT_DIFFUSION, options, data }, onPlan);
  if (checkpoint) ctx.log(`resumed ${resume} at step ${trainer.step}`);
  for (const w of runWarnings(steps, trainer.options, data.count)) ctx.log(`warning: ${w}`);
  ctx.log(runExpectation(steps, trainer.options.batch, 0, undefined, milestoneMismatch(trainer.config, dataName)).text);
  const logPath = out.replace(/\.safetensors$/, '') + '.loss.csv';
  if (!resume || !existsSync(logPath)) writeFileSync(logPath, 'step,loss\n');
  const first = trainer.step;
  const end = first + steps;
  const meter = new ProgressMeter(steps, 'step');
  meter.update(0);   // the run's start: the first chunk's time includes the start-up
  ctx.log(`step ${first}/${end}: the first steps compile the kernels; then a line every ${countOf(chunk, 'step')}`);
  await trainUntil(trainer, end, { most: () => chunk }, ({ losses }) => {
    const s0 = trainer.step - losses.length;
    appendFileSync(logPath, Array.from(losses, (l, i) => `${s0 + i + 1},${l}\n`).join(''));
    const p = meter.update(trainer.step - first);
    const mean = losses.reduce((a, b) => a + b, 0) / losses.length;
    const ips = p.rate === undefined ? '' : p.provisional ? `  ETA ≤ ${formatDuration(p.etaSeconds!)} (start-up included)`
      : `  ${(p.rate * trainer.options.batch).toFixed(2)} img/s  ETA ${formatDuration(p.etaSeconds!)}`;
    ctx.log(`step ${trainer.step}/${end}  loss ${mean.toFixed(4)}${ips}${skipsNote(trainer.skippedSteps)}`);
  });
  const ckpt = await trainer.checkpoint();
  writeSafetensors(out, ckpt.tensors, ckpt.metadata);
  ctx.log(`wrote checkpoint (step ${trainer.step}) to ${out}; losses in ${logPath}`);
}

/** What a training run's log says of its tier, in the reduced-precision tiers (`ddim train`, `ddim research train`). */
export function logTier(ctx: CommandContext, tier: Tier): void {
  if (tier !== 'fp32') ctx.log(`precision ${tier}: f16 GEMM operands, f32 master weights, Adam and EMA, a dynamic loss scale`);
}

/** The steps the loss scale skipped, as a progress line ends ('' for none). */
export function skipsNote(skipped: number): string {
  return skipped ? `  (${lossScaleSkipsText(skipped)})` : '';
}
