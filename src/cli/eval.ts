// `ddim eval`: sample quality without downloads. For every (steps, eta) setting and for ddpm_noisy,
// generate N samples and report the Fréchet distance of 8x8-pooled pixel features against the
// held-out emoji, the share of noise samples (the README's Table 1), and the nearest training image
// of each sample (memorisation shows as RMS ~ 0).
// With --samples, scores a given set instead (the last frame of a `ddim sample` .safetensors, or a
// `samples` tensor): how the engine's measure is compared with tools/eval_torch.py's on one set.
import { checkSeed, ddimSpec, type ChainPlan } from '../app/sampling';
import { modelChain } from '../app/model-files';
import { fitGaussian, frechetDistance, nearestNeighbours, pooledFeatures, type GaussianFit } from '../eval/frechet';
import { noiseLimit, noiseShare } from '../eval/sets';
import type { ImageDataset } from '../train/data';
import { runChain } from '../engine/sampler';
import { numberArg, numberListArg, parseArgs } from './args';
import { loadData, openModelFile, readSafetensors } from './files';
import type { CommandContext } from './commands';

const CMD = 'ddim eval';

/** What samples are scored against: the held-out set's fit, the training images, and the noise test fitted on them. */
interface Scoring {
  reference: GaussianFit;
  train: ImageDataset;
  noiseLimit: number;
}

function scoring(held: ImageDataset, train: ImageDataset, size: number): Scoring {
  return { reference: fitGaussian(pooledFeatures(held.images, 3, size)), train, noiseLimit: noiseLimit(train.images, 3, size) };
}

/** FD against the held-out set, the share of noise samples (eval/sets.ts noiseShare, as tools/eval_torch.py)
 *  and nearest-training-image RMS of samples (clamped to [-1, 1] first). */
function scoreLine(name: string, steps: string, samples: Float32Array, size: number, s: Scoring): string {
  const x = samples.map((v) => Math.min(1, Math.max(-1, v)));
  const fd = frechetDistance(fitGaussian(pooledFeatures(x, 3, size)), s.reference);
  const noise = `${(100 * noiseShare(x, 3, size, s.noiseLimit)).toFixed(1)}%`;
  const nn = nearestNeighbours(x, s.train.images, 3 * size * size).map((r) => r.rms);
  const mean = nn.reduce((a, b) => a + b, 0) / nn.length;
  return `${name.padEnd(16)} ${steps.padStart(6)} ${fd.toFixed(3).padStart(8)} ${noise.padStart(7)} ${mean.toFixed(4).padStart(13)} ${Math.min(...nn).toFixed(4).padStart(12)}`;
}

const HEADER = 'sampler           steps      FD   noise   NN-RMS mean   NN-RMS min';

/** The images of a samples file: `samples` [N,C,S,S], or the last frame of `xs` [K+1,N,C,S,S]. */
function readSamples(path: string, size: number): { images: Float32Array; count: number } {
  const file = readSafetensors(path);
  const per = 3 * size * size;
  const t = file.tensors.get('samples') ?? file.tensors.get('xs');
  if (!t) throw new Error(`${path}: no "samples" or "xs" tensor`);
  const last = t.shape.length === 5 ? t.data.subarray(t.data.length - t.shape[1]! * per) : t.data;
  if (t.shape.slice(-3).join(',') !== `3,${size},${size}` || last.length % per !== 0) throw new Error(`${path}: tensor of shape [${t.shape}] does not hold 3x${size}x${size} images`);
  return { images: last, count: last.length / per };
}

export async function evalCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, { values: ['weights', 'config', 'samples', 'size', 'data', 'steps', 'eta', 'n', 'seed'], flags: ['no-ddpm'], required: ['data'] }, CMD);
  const samplesPath = args.values.get('samples');
  if (samplesPath !== undefined) {
    const size = numberArg(args, 'size', 16, CMD);
    const [train, held] = [await loadData(args.values.get('data')!, 'train', size, `${CMD}: --data`), await loadData(args.values.get('data')!, 'eval', size, `${CMD}: --data`)];
    const { images, count } = readSamples(samplesPath, size);
    if (count < 2) throw new Error(`${samplesPath}: ${count} sample; a covariance needs two`);
    ctx.log(`Fréchet distance of 8x8 pooled pixels: ${count} samples of ${samplesPath} vs ${held.count} held-out images`);
    ctx.log(HEADER);
    ctx.log(scoreLine('given', '-', images, size, scoring(held, train, size)));
    return;
  }
  const wPath = args.values.get('weights');
  if (wPath === undefined) throw new Error(`${CMD}: give --weights (or --samples)`);
  const model = openModelFile(wPath, args.values.get('config'));
  const dataName = args.values.get('data')!;
  const [train, held] = [await loadData(dataName, 'train', model.resolution, `${CMD}: --data`), await loadData(dataName, 'eval', model.resolution, `${CMD}: --data`)];
  const size = train.resolution;
  if (model.resolution !== size) throw new Error(`${CMD}: ${wPath} is a ${model.resolution} px model, --data is ${size} px`);
  const N = numberArg(args, 'n', 64, CMD);
  if (!Number.isInteger(N) || N < 2) throw new Error(`${CMD}: --n must be an integer >= 2 (a covariance needs two samples), got ${N}`);
  const seed = numberArg(args, 'seed', 0, CMD);
  checkSeed(seed);
  // Every chain planned (and so checked, as the page's are) before the GPU is acquired; a layered
  // model has its one chain (the steps and eta given for it are refused, naming the file).
  const chains: [string, number, ChainPlan][] = [];
  if (model.fixedChain) {
    const fixed = modelChain(model, ddimSpec(1), ['steps', 'eta'].filter((o) => args.values.has(o)).map((o) => `--${o}`));
    chains.push(['layered chain', fixed.coefficients.length, fixed]);
  } else {
    for (const s of numberListArg(args, 'steps', [10, 20, 50, 100], CMD)) {
      for (const eta of numberListArg(args, 'eta', [0, 1], CMD)) chains.push([`ddim eta=${eta}`, s, modelChain(model, ddimSpec(s, eta))]);
      if (!args.flags.has('no-ddpm')) chains.push(['ddpm_noisy', s, modelChain(model, { sampler: 'ddpm_noisy', steps: s, eta: 1, skip: 'uniform', clipX0: true })]);
    }
  }
  const scores = scoring(held, train, size);
  const { device } = await ctx.gpu();
  const net = model.plan(device, N);
  ctx.log(`Fréchet distance of 8x8 pooled pixels: ${N} samples vs ${held.count} held-out images; nearest neighbours among ${train.count} training images`);
  ctx.log(HEADER);
  for (const [name, s, plan] of chains) {
    ctx.log(scoreLine(name, String(s), await runChain(device, net, plan.coefficients, { kind: 'rng', seed }), size, scores));
  }
}
