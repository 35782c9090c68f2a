// `ddim sample`: generate images with the DDIM/DDPM samplers; PNG grids or full trajectories.
import { writeFileSync } from 'node:fs';
import { readTensors } from '../gpu/tensor';
import { getTensor } from '../io/safetensors';
import type { HostTensor } from '../host/tensor';
import { imageGrid } from '../io/grid';
import { encodePng } from '../io/png';
import { alphaBars, betaSchedule } from '../diffusion/schedule';
import { SAMPLERS, stepCoefficients, type SamplerKind } from '../diffusion/samplers';
import { SKIP_TYPES, checkSequence, timestepSequence, type SkipType } from '../diffusion/timesteps';
import { slerpFrames } from '../diffusion/interpolate';
import { gaussian } from '../host/rng';
import { weightsFile } from '../io/convert';
import { UNet } from '../nn/unet';
import { Sampler, type NoiseSource } from '../engine/sampler';
import { numberArg, parseArgs } from './args';
import { openModel, readSafetensors, writeSafetensors } from './files';
import { peekWeights, type CommandContext } from './commands';
import { isLayered, layeredSample } from './layered';

const CMD = 'ddim sample';

function choice<T extends string>(value: string | undefined, options: readonly T[], fallback: T, name: string): T {
  if (value === undefined) return fallback;
  if (!options.includes(value as T)) throw new Error(`${CMD}: --${name} must be one of ${options.join(', ')}, got "${value}"`);
  return value as T;
}

function intArg(v: number, name: string, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new Error(`${CMD}: --${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

export async function sampleCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const file = peekWeights(argv);
  if (file && isLayered(file)) return layeredSample(argv, ctx, file);
  const args = parseArgs(argv, {
    values: ['weights', 'config', 'steps', 'eta', 'sampler', 'skip', 'seed', 'n', 'init', 'out', 'interpolate'],
    flags: ['x0-grid', 'clip-x0', 'use-clipped-model-output'],
    required: ['weights', 'out'],
  }, CMD);
  const wPath = args.values.get('weights')!, out = args.values.get('out')!;
  if (!/\.(png|safetensors)$/.test(out)) throw new Error(`${CMD}: --out must end in .png or .safetensors, got "${out}"`);
  const model = openModel(wPath, args.values.get('config'), file);
  const { config, diffusion } = model;
  const T = diffusion.num_diffusion_timesteps;
  const abar = alphaBars(betaSchedule(diffusion));
  const sampler = choice(args.values.get('sampler'), SAMPLERS, 'generalized' as SamplerKind, 'sampler');
  const skip = choice(args.values.get('skip'), SKIP_TYPES, 'uniform' as SkipType, 'skip');
  const eta = numberArg(args, 'eta', 0, CMD);
  if (!(eta >= 0 && eta <= 1)) throw new Error(`${CMD}: --eta must be in [0, 1] (0: DDIM, 1: DDPM-like), got ${eta}`);
  const seed = intArg(numberArg(args, 'seed', 0, CMD), 'seed', 0);
  const clipX0 = args.flags.has('clip-x0');
  const shape = [config.in_channels, config.resolution, config.resolution];

  // --init: x_T and optionally the sequence and the exact noises of a trajectory to replay.
  const initPath = args.values.get('init');
  const init = initPath ? readSafetensors(initPath) : null;
  let xT: HostTensor | undefined;
  let N = intArg(numberArg(args, 'n', 4, CMD), 'n', 1);
  if (init) {
    xT = getTensor(init, 'xT', undefined, initPath);
    if (xT.shape.length !== 4 || xT.shape.slice(1).some((d, i) => d !== shape[i])) {
      throw new Error(`${initPath}: tensor "xT" has shape [${xT.shape}], model expects [N,${shape}]`);
    }
    N = xT.shape[0]!;
  }
  const frames = args.values.has('interpolate') ? intArg(numberArg(args, 'interpolate', 0, CMD), 'interpolate', 2) : 0;
  if (frames) {
    if (init) throw new Error(`${CMD}: --interpolate draws its own two noises; it cannot be combined with --init`);
    // Frames between the x_T of --seed and of --seed + 1 (the GPU RNG's x_T stream, drawn here by
    // its CPU twin), spherically interpolated.
    const n = shape.reduce((a, b) => a * b, 1);
    const path = slerpFrames(gaussian(seed, 0, 0, n), gaussian(seed + 1, 0, 0, n), frames);
    const data = new Float32Array(frames * n);
    path.forEach((z, i) => data.set(z, i * n));
    xT = { shape: [frames, ...shape], data };
    N = frames;
  }
  const seq = init?.tensors.has('seq')
    ? checkSequence(Array.from(init.tensors.get('seq')!.data), T, `${initPath} seq`)
    : timestepSequence(skip, intArg(numberArg(args, 'steps', 50, CMD), 'steps', 1), T);
  let noise: NoiseSource = { kind: 'rng', seed };
  if (init?.tensors.has('noises')) {
    noise = { kind: 'replay', noises: getTensor(init, 'noises', [seq.length, N, ...shape], initPath).data };
  }

  const { device } = await ctx.gpu();
  const net = new UNet(device, config, { batch: N });
  net.params.load(weightsFile(model), wPath);
  const record = out.endsWith('.safetensors') || args.flags.has('x0-grid');
  const coefficients = stepCoefficients(seq, abar, { sampler, eta, clipX0, useClippedModelOutput: args.flags.has('use-clipped-model-output') });
  const run = new Sampler(device, net, coefficients, noise, record);
  const t0 = performance.now();
  await run.run(xT?.data, (k) => {
    if (k % 10 === 9 || k === run.steps - 1) ctx.log(`step ${k + 1}/${run.steps}`);
  });
  ctx.log(`${run.steps} steps of ${sampler} (eta ${eta}) for ${N} samples in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

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
  const [final] = await readTensors(device, [net.x]);
  const cols = frames ? N : Math.ceil(Math.sqrt(N)); // an interpolation is one strip
  const grid = imageGrid(final!, shape[0]!, shape[1]!, Math.ceil(N / cols), cols);
  writeFileSync(out, await encodePng(grid.width, grid.height, grid.data));
  ctx.log(`wrote ${N} samples to ${out}`);
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
