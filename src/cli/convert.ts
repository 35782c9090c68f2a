// `ddim convert`: a model in the reference or the diffusers UNet2DModel layout -> the reference layout
// with the config in __metadata__ (what `ddim forward/sample`, the app and PyTorch's
// load_state_dict(strict=True) read).
import { readFileSync } from 'node:fs';
import { toReferenceLayout } from '../io/convert';
import { parseArgs } from './args';
import { readSafetensors, writeSafetensors } from './files';
import type { CommandContext } from './commands';

const CMD = 'ddim convert';

export async function convertCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, { values: ['in', 'config', 'out'], required: ['in', 'out'] }, CMD);
  const inPath = args.values.get('in')!;
  const configPath = args.values.get('config');
  let configJson: unknown;
  if (configPath) {
    try {
      configJson = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      throw new Error(`${configPath}: cannot read the model config (${(e as Error).message})`);
    }
  }
  const model = toReferenceLayout(readSafetensors(inPath), inPath, configJson);
  writeSafetensors(args.values.get('out')!, model.tensors, model.metadata);
  const c = model.config;
  ctx.log(`${inPath} (${model.layout} layout): ${model.tensors.size} tensors, ch=${c.ch} ch_mult=[${c.ch_mult}] num_res_blocks=${c.num_res_blocks} ` +
    `attn_resolutions=[${c.attn_resolutions}] resolution=${c.resolution} -> ${args.values.get('out')} (reference layout)`);
}
