// The engine's command-line contracts: `ddim forward` and `ddim train-step`.
import { submitDispatches } from '../gpu/kernel';
import { readTensor, readTensors, upload } from '../gpu/tensor';
import { getTensor } from '../io/safetensors';
import type { HostTensor, SafetensorsFile } from '../host/tensor';
import type { UNetConfig } from '../nn/config';
import { weightsFile } from '../io/convert';
import { UNet } from '../nn/unet';
import { alphaBars, betaSchedule } from '../diffusion/schedule';
import { TrainStep } from '../train/step';
import { DEFAULT_OPTIMIZER } from '../train/optimizer';
import { numberArg, parseArgs, precisionArg } from './args';
import type { PrecisionRequest, Tier } from '../gpu/tier';
import { openModel, readSafetensors, writeSafetensors } from './files';
import { layeredTrainStep } from './layered';
import { isLayeredFile } from '../app/model-files';

/**
 * The file --weights names, read once before the arguments are checked: a layered (research-mode) file
 * takes its own contracts (cli/layered.ts), any other goes on to the command with it.
 */
export function peekWeights(argv: readonly string[]): SafetensorsFile | undefined {
  const i = argv.indexOf('--weights');
  const joined = argv.find((a) => a.startsWith('--weights='));
  const path = joined ? joined.slice('--weights='.length) : i >= 0 ? argv[i + 1] : undefined;
  return path && !path.startsWith('--') ? readSafetensors(path) : undefined;
}

export interface Gpu {
  device: GPUDevice;
  /** The adapter, in words ("swiftshader (google)"). */
  adapter: string;
  /** The precision tier the device was acquired with. */
  tier: Tier;
}

export interface CommandContext {
  /** The GPU, acquired on the first call: commands check their arguments and read their input files
   *  first, so a bad command line fails at once and never waits for a device. `precision` (default
   *  auto) picks its tier; an adapter that cannot run it is an error naming the missing feature. */
  gpu: (precision?: PrecisionRequest) => Promise<Gpu>;
  log: (line: string) => void;
}

/** Checks an image batch against the model: [B, in_channels, resolution, resolution]. */
function imageBatch(file: SafetensorsFile, name: string, cfg: UNetConfig, source: string, batch?: number): HostTensor {
  const t = getTensor(file, name, undefined, source);
  const [B, C, H, W] = t.shape;
  const want = [batch ?? B ?? 1, cfg.in_channels, cfg.resolution, cfg.resolution];
  if (t.shape.length !== 4 || B! < 1 || C !== want[1] || H !== want[2] || W !== want[3] || B !== want[0]) {
    throw new Error(`${source}: tensor "${name}" has shape [${t.shape}], model expects [${want}] (B, C, H, W)`);
  }
  return t;
}

function timesteps(file: SafetensorsFile, batch: number, source: string, integer: boolean, T: number): Float32Array {
  const t = getTensor(file, 't', [batch], source);
  for (const v of t.data) {
    if (!Number.isFinite(v) || (integer && (!Number.isInteger(v) || v < 0 || v >= T))) {
      throw new Error(`${source}: tensor "t" holds ${v}; expected ${integer ? `integer timesteps in [0, ${T})` : 'finite timesteps'}`);
    }
  }
  return t.data;
}

export async function forwardCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, { values: ['weights', 'config', 'input', 'out', 'precision'], required: ['weights', 'input', 'out'] }, 'ddim forward');
  const precision = precisionArg(args, 'ddim forward');
  const wPath = args.values.get('weights')!, inPath = args.values.get('input')!, outPath = args.values.get('out')!;
  const model = openModel(wPath, args.values.get('config'));
  const config = model.config;
  const input = readSafetensors(inPath);
  const x = imageBatch(input, 'x', config, inPath);
  const B = x.shape[0]!;
  const t = timesteps(input, B, inPath, false, 0);
  const { device, tier } = await ctx.gpu(precision);
  const net = new UNet(device, config, { batch: B });
  net.params.load(weightsFile(model), wPath);
  upload(device, net.x, x.data);
  upload(device, net.t, t);
  submitDispatches(device, net.forward, 'forward');
  const eps = await readTensor(device, net.eps);
  writeSafetensors(outPath, new Map([['eps', { shape: [...net.eps.shape], data: eps }]]));
  ctx.log(`wrote eps [${net.eps.shape}] to ${outPath} (precision ${tier})`);
}

export async function trainStepCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const cmd = 'ddim train-step';
  const file = peekWeights(argv);
  if (file && isLayeredFile(file)) return layeredTrainStep(argv, ctx, file);
  const args = parseArgs(argv, { values: ['weights', 'config', 'batch', 'out', 'lr', 'grad-clip', 'ema', 'precision'], required: ['weights', 'batch', 'out'] }, cmd);
  const precision = precisionArg(args, cmd);
  const wPath = args.values.get('weights')!, inPath = args.values.get('batch')!, outPath = args.values.get('out')!;
  const opt = {
    ...DEFAULT_OPTIMIZER,
    lr: numberArg(args, 'lr', DEFAULT_OPTIMIZER.lr, cmd),
    gradClip: numberArg(args, 'grad-clip', DEFAULT_OPTIMIZER.gradClip, cmd),
    emaRate: numberArg(args, 'ema', DEFAULT_OPTIMIZER.emaRate, cmd),
  };
  if (!(opt.lr > 0)) throw new Error(`${cmd}: --lr must be positive, got ${opt.lr}`);
  if (!(opt.gradClip >= 0)) throw new Error(`${cmd}: --grad-clip must be >= 0 (0 disables clipping), got ${opt.gradClip}`);
  if (!(opt.emaRate >= 0 && opt.emaRate <= 1)) throw new Error(`${cmd}: --ema must be in [0, 1], got ${opt.emaRate}`);
  const model = openModel(wPath, args.values.get('config'), file);
  const config = model.config;
  const abar = alphaBars(betaSchedule(model.diffusion));
  const batch = readSafetensors(inPath);
  const x0 = imageBatch(batch, 'x0', config, inPath);
  const B = x0.shape[0]!;
  const noise = imageBatch(batch, 'noise', config, inPath, B);
  const t = timesteps(batch, B, inPath, true, abar.length);

  const { device: d, tier } = await ctx.gpu(precision);
  const step = new TrainStep(d, config, B, opt);
  const initial = step.net.params.pack(weightsFile(model), wPath);
  upload(d, step.net.params.flat, initial);
  upload(d, step.ema.flat, initial);
  upload(d, step.x0, x0.data);
  upload(d, step.noise, noise.data);
  step.setTimesteps(t, abar);
  const encoder = d.createCommandEncoder({ label: 'train-step' });
  step.encode(encoder, 1);
  d.queue.submit([encoder.finish()]);

  const [loss, norm] = await readTensors(d, [step.loss, step.gradNorm]);
  const out = new Map<string, HostTensor>([
    ['loss', { shape: [1], data: loss! }],
    ['grad_norm_before_clip', { shape: [1], data: norm!.slice(0, 1) }],
  ]);
  // The reduced tiers' gradients hold the loss scale S the step used (a power of two): divided out exactly.
  const lossScale = norm![3]!;
  for (const [prefix, store] of [['grad/', step.net.grads!], ['step1/', step.net.params], ['ema1/', step.ema]] as const) {
    for (const [name, t] of await store.read()) out.set(prefix + name, prefix === 'grad/' && lossScale !== 1 ? { shape: t.shape, data: t.data.map((v) => v / lossScale) } : t);
  }
  writeSafetensors(outPath, out);
  ctx.log(`loss ${loss![0]!.toPrecision(7)}, grad norm ${norm![0]!.toPrecision(7)}; wrote ${out.size} tensors to ${outPath} (precision ${tier}${lossScale !== 1 ? `, loss scale ${lossScale}${norm![2] ? ', step skipped: the scaled gradients overflowed' : ''}` : ''})`);
}
