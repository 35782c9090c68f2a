// `ddim convert`: a model in the reference or the diffusers UNet2DModel layout -> the reference layout
// with the config in __metadata__ (what PyTorch's load_state_dict(strict=True) reads; the app and
// every `ddim` command open either layout themselves, through openModel).
import { parseArgs } from './args';
import { openModel, writeSafetensors } from './files';
import type { CommandContext } from './commands';

const CMD = 'ddim convert';

export async function convertCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, { values: ['in', 'config', 'out'], required: ['in', 'out'] }, CMD);
  const inPath = args.values.get('in')!;
  const model = openModel(inPath, args.values.get('config'));
  writeSafetensors(args.values.get('out')!, model.tensors, model.metadata);
  const c = model.config;
  ctx.log(`${inPath} (${model.layout} layout): ${model.tensors.size} tensors, ch=${c.ch} ch_mult=[${c.ch_mult}] num_res_blocks=${c.num_res_blocks} ` +
    `attn_resolutions=[${c.attn_resolutions}] resolution=${c.resolution} -> ${args.values.get('out')} (reference layout)`);
}
