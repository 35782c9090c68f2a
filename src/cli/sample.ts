// `ddim sample`: generate images with the DDIM/DDPM samplers, from any model file (a UNet, or a
// layered model, whose chain the file fixes); PNG grids or full trajectories.
import { writeFileSync } from 'node:fs';
import { readTensors } from '../gpu/tensor';
import { getTensor } from '../io/safetensors';
import type { HostTensor } from '../host/tensor';
import { imageGrid } from '../io/grid';
import { encodePng } from '../io/png';
import type { SamplerKind } from '../diffusion/samplers';
import { checkSequence, describeChain, type SkipType } from '../diffusion/timesteps';
import { checkRun, checkSeed, interpolationStart, type ChainSettings } from '../app/sampling';
import { CHAIN_CHOICES, fixedChainText, modelChain } from '../app/model-files';
import { Sampler, type NoiseSource } from '../engine/sampler';
import { numberArg, parseArgs, precisionArg } from './args';
import { countOf } from '../app/progress';
import { openIdeal, openModelFile, readSafetensors, writeSafetensors } from './files';
import type { CommandContext } from './commands';

const CMD = 'ddim sample';

export async function sampleCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, {
    values: ['weights', 'ideal', 'config', 'steps', 'eta', 'sampler', 'skip', 'seed', 'n', 'init', 'out', 'interpolate', 'precision'],
    flags: ['x0-grid', 'clip-x0', 'use-clipped-model-output'],
    required: ['out'],
  }, CMD);
  const out = args.values.get('out')!;
  if (!/\.(png|safetensors)$/.test(out)) throw new Error(`${CMD}: --out must end in .png or .safetensors, got "${out}"`);
  const ideal = args.values.get('ideal');
  if ((ideal === undefined) === !args.values.has('weights')) throw new Error(`${CMD}: give --weights W.safetensors or --ideal DATA (the ideal denoiser of a data set), one of them`);
  const model = ideal !== undefined ? await openIdeal(ideal, `${CMD}: --ideal`) : openModelFile(args.values.get('weights')!, args.values.get('config'));
  const wPath = model.source;
  const T = model.diffusion.num_diffusion_timesteps;
  const shape = [model.channels, model.resolution, model.resolution];
  // The flags as the page's settings; app/sampling.ts checks them (below, in modelChain) for both.
  const settings: ChainSettings = {
    sampler: (args.values.get('sampler') ?? 'generalized') as SamplerKind,
    skip: (args.values.get('skip') ?? 'uniform') as SkipType,
    steps: numberArg(args, 'steps', 50, CMD),
    eta: numberArg(args, 'eta', 0, CMD),
    seed: numberArg(args, 'seed', 0, CMD),
    batch: numberArg(args, 'n', 4, CMD),
    clipX0: args.flags.has('clip-x0'),
    useClippedModelOutput: args.flags.has('use-clipped-model-output'),
  };
  // What a model with a fixed chain (a layered one) cannot take, if given.
  const chosen = [...CHAIN_CHOICES.filter((c) => args.values.has(c)), ...['clip-x0', 'use-clipped-model-output'].filter((f) => args.flags.has(f))].map((c) => `--${c}`);

  // --init: x_T and optionally the sequence and the exact noises of a trajectory to replay.
  const initPath = args.values.get('init');
  const init = initPath ? readSafetensors(initPath) : null;
  let xT: HostTensor | undefined;
  if (init) {
    xT = getTensor(init, 'xT', undefined, initPath);
    if (xT.shape.length !== 4 || xT.shape.slice(1).some((d, i) => d !== shape[i])) {
      throw new Error(`${initPath}: tensor "xT" has shape [${xT.shape}], model expects [N,${shape}]`);
    }
    settings.batch = xT.shape[0]!;
  }
  const frames = args.values.has('interpolate') ? numberArg(args, 'interpolate', 0, CMD) : 0;
  if (args.values.has('interpolate')) {
    if (init) throw new Error(`${CMD}: --interpolate draws its own two noises; it cannot be combined with --init`);
    // Frames between the x_T of --seed and of --seed + 1.
    xT = { shape: [frames, ...shape], data: interpolationStart({ in_channels: model.channels, resolution: model.resolution }, settings.seed, settings.seed + 1, frames) };
    settings.batch = frames;
  }
  if (init?.tensors.has('seq') && model.fixedChain) throw new Error(`${initPath}: holds a chain to replay (seq), but ${wPath}: ${fixedChainText(model.fixedChain)}`);
  const replay = init?.tensors.has('seq') ? checkSequence(Array.from(init.tensors.get('seq')!.data), T, `${initPath} seq`) : undefined;
  if (replay) settings.steps = replay.length;
  // An --init file brings its own batch (ddim invert's x_T of a whole folder): the page's batch limit
  // applies to --n and --interpolate only.
  if (init) checkSeed(settings.seed);
  else checkRun(settings);
  const { seq, coefficients } = modelChain(model, settings, chosen, replay);
  // A skip whose stride does not divide T gives another count than asked (uniform: range(0, T, T // steps)).
  if (!model.fixedChain && !replay && coefficients.length !== settings.steps) {
    ctx.log(`note: --steps ${settings.steps} with --skip ${settings.skip} gives ${describeChain(seq)}, as the reference's timestep sequence does`);
  }
  const { sampler, eta, seed, batch: N } = settings;
  let noise: NoiseSource = { kind: 'rng', seed };
  if (init?.tensors.has('noises')) {
    noise = { kind: 'replay', noises: getTensor(init, 'noises', [coefficients.length, N, ...shape], initPath).data };
  }

  const { device } = await ctx.gpu(precisionArg(args, CMD));
  const net = model.plan(device, N);
  const record = out.endsWith('.safetensors') || args.flags.has('x0-grid');
  const run = new Sampler(device, net, coefficients, noise, record);
  const t0 = performance.now();
  // A step is counted when the GPU has done it (not when it was submitted), every 10th step.
  await run.run(xT?.data, async (k) => {
    if (k % 10 !== 9 && k !== run.steps - 1) return;
    await device.queue.onSubmittedWorkDone();
    ctx.log(`step ${k + 1}/${run.steps}  ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
  ctx.log(`${countOf(run.steps, 'step')} of ${model.fixedChain ? 'the layered chain' : sampler === 'ddpm_noisy' ? sampler : `${sampler} (eta ${eta})`}${ideal !== undefined ? ' with the ideal denoiser' : ''} for ${countOf(N, 'sample')} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const [final] = await readTensors(device, [net.x]);
  // Nothing non-finite leaves the engine silently (the planned coefficients are finite; this is the model's output).
  const bad = final!.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${wPath}: the chain ended with a non-finite value (${final![bad]}) in sample ${Math.floor(bad / (final!.length / N))}; nothing was written`);

  const per = N * shape.reduce((a, b) => a * b, 1);
  if (out.endsWith('.safetensors')) {
    const [xs, x0s] = await readTensors(device, [run.xs!, run.x0s!]);
    writeSafetensors(out, new Map([
      ['xs', { shape: [run.steps + 1, N, ...shape], data: xs! }],
      ['x0_preds', { shape: [run.steps, N, ...shape], data: x0s! }],
      ['seq', { shape: [seq.length], data: Float32Array.from(seq) }],
    ]));
    ctx.log(`wrote xs [${run.steps + 1},${N},${shape}] and x0_preds to ${out}`);
    return;
  }
  const cols = frames ? N : Math.ceil(Math.sqrt(N)); // an interpolation is one strip
  const grid = imageGrid(final!, shape[0]!, shape[1]!, Math.ceil(N / cols), cols);
  writeFileSync(out, await encodePng(grid.width, grid.height, grid.data));
  ctx.log(`wrote ${countOf(N, 'sample')} to ${out}`);
  if (args.flags.has('x0-grid')) {
    // One row per sample: the x0 predicted at each step, noisiest first.
    const [x0s] = await readTensors(device, [run.x0s!]);
    const one = per / N;
    const byRow = new Float32Array(per * run.steps);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < run.steps; k++) byRow.set(x0s!.subarray(k * per + n * one, k * per + (n + 1) * one), (n * run.steps + k) * one);
    }
    const strip = imageGrid(byRow, shape[0]!, shape[1]!, N, run.steps);
    const stripPath = out.replace(/\.png$/, '.x0.png');
    writeFileSync(stripPath, await encodePng(strip.width, strip.height, strip.data));
    ctx.log(`wrote the per-step x0 filmstrip to ${stripPath}`);
  }
}

