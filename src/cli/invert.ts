// `ddim invert`: DDIM inversion (eta 0, the deterministic update run backwards) of real images to
// their x_T, written as an --init file for `ddim sample` (xT and seq), so an image can be
// reconstructed, edited or interpolated; reports how well the chain reconstructs each image.
import { clippedMse, psnr } from '../diffusion/forward';
import { alphaBars, betaSchedule } from '../diffusion/schedule';
import { inversionCoefficients, stepCoefficients } from '../diffusion/samplers';
import { SKIP_TYPES, timestepSequence, type SkipType } from '../diffusion/timesteps';
import { Sampler } from '../engine/sampler';
import { readTensor } from '../gpu/tensor';
import type { HostTensor } from '../host/tensor';
import { weightsFile } from '../io/convert';
import { UNet } from '../nn/unet';
import { numberArg, parseArgs } from './args';
import { openModel, writeSafetensors } from './files';
import { imagesFromFiles, isDirectory, listImages } from './images';
import type { CommandContext } from './commands';

const CMD = 'ddim invert';

export async function invertCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, { values: ['weights', 'config', 'image', 'steps', 'skip', 'out'], required: ['weights', 'image', 'out'] }, CMD);
  const wPath = args.values.get('weights')!, image = args.values.get('image')!, out = args.values.get('out')!;
  if (!out.endsWith('.safetensors')) throw new Error(`${CMD}: --out must end in .safetensors, got "${out}"`);
  const model = openModel(wPath, args.values.get('config'));
  const config = model.config;
  const abar = alphaBars(betaSchedule(model.diffusion));
  const steps = numberArg(args, 'steps', 50, CMD);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`${CMD}: --steps must be a positive integer, got ${steps}`);
  const skip = (args.values.get('skip') ?? 'uniform') as SkipType;
  if (!SKIP_TYPES.includes(skip)) throw new Error(`${CMD}: --skip must be one of ${SKIP_TYPES.join(', ')}, got "${skip}"`);
  const files = isDirectory(image) ? listImages(image) : [image];
  if (files.length === 0) throw new Error(`${image}: no PNG, JPEG or WebP images in this folder`);
  const data = await imagesFromFiles(files, config.resolution, image);
  const seq = timestepSequence(skip, steps, abar.length);

  const { device } = await ctx.gpu();
  const net = new UNet(device, config, { batch: data.count });
  net.params.load(weightsFile(model), wPath);
  await new Sampler(device, net, inversionCoefficients(seq, abar), { kind: 'rng', seed: 0 }, false).run(data.images);
  const xT = await readTensor(device, net.x);
  // Back down the same sequence: how close the round trip comes to the images.
  await new Sampler(device, net, stepCoefficients(seq, abar, { sampler: 'generalized', eta: 0, clipX0: false, useClippedModelOutput: false }), { kind: 'rng', seed: 0 }, false).run(xT);
  const back = await readTensor(device, net.x);
  const per = back.length / data.count;
  const shape = [data.count, config.in_channels, config.resolution, config.resolution];
  writeSafetensors(out, new Map<string, HostTensor>([
    ['xT', { shape, data: xT }], ['seq', { shape: [seq.length], data: Float32Array.from(seq) }], ['x0', { shape, data: data.images }],
  ]), { format: 'ddim-inversion', source: wPath });
  files.forEach((f, i) => {
    const mse = clippedMse(back.subarray(i * per, (i + 1) * per), data.images.subarray(i * per, (i + 1) * per));
    ctx.log(`${f}: reconstruction after ${seq.length} steps: PSNR ${psnr(mse).toFixed(2)} dB`);
  });
  ctx.log(`wrote xT [${shape}] and seq to ${out}; \`ddim sample --weights ${wPath} --init ${out} --out OUT.png\` reconstructs`);
}
