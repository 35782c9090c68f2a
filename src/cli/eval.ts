// `ddim eval`: sample quality without downloads. For every (steps, eta) setting and for ddpm_noisy,
// generate N samples and report the Fréchet distance of 8x8-pooled pixel features against the
// held-out emoji, and the nearest training image of each sample (memorisation shows as RMS ~ 0).
import { readTensor } from '../gpu/tensor';
import { alphaBars, betaSchedule } from '../diffusion/schedule';
import { stepCoefficients, type SamplerOptions } from '../diffusion/samplers';
import { timestepSequence } from '../diffusion/timesteps';
import { fitGaussian, frechetDistance, nearestNeighbours, pooledFeatures } from '../eval/frechet';
import { weightsFile } from '../io/convert';
import { UNet } from '../nn/unet';
import { Sampler } from '../engine/sampler';
import { numberArg, numberListArg, parseArgs } from './args';
import { loadData, openModel } from './files';
import type { CommandContext } from './commands';

const CMD = 'ddim eval';

export async function evalCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, { values: ['weights', 'config', 'data', 'steps', 'eta', 'n', 'seed'], flags: ['no-ddpm'], required: ['weights', 'data'] }, CMD);
  const wPath = args.values.get('weights')!;
  const model = openModel(wPath, args.values.get('config'));
  const config = model.config;
  const dataName = args.values.get('data')!;
  const [train, held] = [await loadData(dataName, 'train', config.resolution, `${CMD}: --data`), await loadData(dataName, 'eval', config.resolution, `${CMD}: --data`)];
  const size = train.resolution;
  if (config.resolution !== size) throw new Error(`${CMD}: ${wPath} is a ${config.resolution} px model, --data is ${size} px`);
  const abar = alphaBars(betaSchedule(model.diffusion));
  const N = numberArg(args, 'n', 64, CMD);
  if (!Number.isInteger(N) || N < 2) throw new Error(`${CMD}: --n must be an integer >= 2 (a covariance needs two samples), got ${N}`);
  const seed = numberArg(args, 'seed', 0, CMD);
  const steps = numberListArg(args, 'steps', [10, 20, 50, 100], CMD);
  if (steps.some((x) => !Number.isInteger(x) || x < 1 || x > abar.length)) throw new Error(`${CMD}: --steps must be integers in [1, ${abar.length}], got "${args.values.get('steps')}"`);
  const etas = numberListArg(args, 'eta', [0, 1], CMD);
  if (etas.some((x) => x < 0 || x > 1)) throw new Error(`${CMD}: --eta values must be in [0, 1], got "${args.values.get('eta')}"`);
  const reference = fitGaussian(pooledFeatures(held.images, 3, size));
  const { device } = await ctx.gpu();
  const net = new UNet(device, config, { batch: N });
  net.params.load(weightsFile(model), wPath);

  const settings: [string, number, SamplerOptions][] = [];
  for (const s of steps) {
    for (const eta of etas) {
      settings.push([`ddim eta=${eta}`, s, { sampler: 'generalized', eta, clipX0: false, useClippedModelOutput: false }]);
    }
    if (!args.flags.has('no-ddpm')) settings.push(['ddpm_noisy', s, { sampler: 'ddpm_noisy', eta: 1, clipX0: true, useClippedModelOutput: false }]);
  }
  ctx.log(`Fréchet distance of 8x8 pooled pixels: ${N} samples vs ${held.count} held-out images; nearest neighbours among ${train.count} training images`);
  ctx.log('sampler           steps      FD   NN-RMS mean   NN-RMS min');
  for (const [name, s, options] of settings) {
    const sampler = new Sampler(device, net, stepCoefficients(timestepSequence('uniform', s, abar.length), abar, options), { kind: 'rng', seed }, false);
    await sampler.run();
    const samples = (await readTensor(device, net.x)).map((v) => Math.min(1, Math.max(-1, v)));
    const fd = frechetDistance(fitGaussian(pooledFeatures(samples, 3, size)), reference);
    const nn = nearestNeighbours(samples, train.images, 3 * size * size).map((r) => r.rms);
    const mean = nn.reduce((a, b) => a + b, 0) / nn.length;
    ctx.log(`${name.padEnd(16)} ${String(s).padStart(6)} ${fd.toFixed(3).padStart(8)} ${mean.toFixed(4).padStart(13)} ${Math.min(...nn).toFixed(4).padStart(12)}`);
  }
}
