// `ddim invert`: DDIM inversion (eta 0, the deterministic update run backwards) of real images to
// their x_T, written as an --init file for `ddim sample` (xT and seq), so an image can be
// reconstructed, edited or interpolated; reports how well the chain reconstructs each image.
import { invertImages, planInversion } from '../app/inversion';
import type { SkipType } from '../diffusion/timesteps';
import type { HostTensor } from '../host/tensor';
import { FILE_FORMATS } from '../host/metadata';
import { numberArg, parseArgs } from './args';
import { openModelFile, writeSafetensors } from './files';
import { imagesFromFiles, isDirectory, listImages } from './images';
import type { CommandContext } from './commands';

const CMD = 'ddim invert';

export async function invertCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, { values: ['weights', 'config', 'image', 'steps', 'skip', 'out'], required: ['weights', 'image', 'out'] }, CMD);
  const wPath = args.values.get('weights')!, image = args.values.get('image')!, out = args.values.get('out')!;
  if (!out.endsWith('.safetensors')) throw new Error(`${CMD}: --out must end in .safetensors, got "${out}"`);
  const model = openModelFile(wPath, args.values.get('config'));
  const plan = planInversion(model, numberArg(args, 'steps', 50, CMD), (args.values.get('skip') ?? 'uniform') as SkipType);
  const files = isDirectory(image) ? listImages(image) : [image];
  if (files.length === 0) throw new Error(`${image}: no PNG, JPEG or WebP images in this folder`);
  const data = await imagesFromFiles(files, model.resolution, image);

  const { device } = await ctx.gpu();
  const net = model.plan(device, data.count);
  const { seq, xT, psnr } = await invertImages(device, net, plan, data.images);
  const shape = [data.count, model.channels, model.resolution, model.resolution];
  writeSafetensors(out, new Map<string, HostTensor>([
    ['xT', { shape, data: xT }], ['seq', { shape: [seq.length], data: Float32Array.from(seq) }], ['x0', { shape, data: data.images }],
  ]), { format: FILE_FORMATS.inversion, source: wPath });
  files.forEach((f, i) => ctx.log(`${f}: reconstruction after ${seq.length} steps: PSNR ${psnr[i]!.toFixed(2)} dB`));
  ctx.log(`wrote xT [${shape}] and seq to ${out}; \`ddim sample --weights ${wPath} --init ${out} --out OUT.png\` reconstructs`);
}
