// `ddim convert`: a model in the reference or the diffusers UNet2DModel layout, or a training
// checkpoint (its EMA weights) -> the reference layout with the config in __metadata__ (what PyTorch's
// load_state_dict(strict=True) reads; the app and every `ddim` command open either layout themselves,
// through openModel), in F32 or, with --dtype f16, in F16 (half the bytes: how a bundled model ships).
import { parseArgs } from './args';
import { configText, readSafetensors, writeSafetensors } from './files';
import { readUNetFile } from '../app/model-files';
import { FILE_FORMATS } from '../host/metadata';
import type { CommandContext } from './commands';
import type { WrittenDtype } from '../io/safetensors';
import { F16_OVERFLOW } from '../host/f16';
import type { HostTensor } from '../host/tensor';
import { own } from '../host/own';

const CMD = 'ddim convert';
const DTYPES: Record<string, WrittenDtype> = { f32: 'F32', f16: 'F16' };

/** Refuses weights that F16 cannot hold: a finite value from 65520 up would become inf, and the model NaN. */
function checkF16Range(tensors: ReadonlyMap<string, HostTensor>, source: string): void {
  for (const [name, t] of tensors) {
    const big = t.data.find((v) => Number.isFinite(v) && Math.abs(v) >= F16_OVERFLOW);
    if (big !== undefined) throw new Error(`${CMD}: ${source}: tensor "${name}" holds ${big}, beyond f16's largest value 65504; keep --dtype f32`);
  }
}

export async function convertCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const args = parseArgs(argv, { values: ['in', 'config', 'out', 'dtype'], required: ['in', 'out'] }, CMD);
  const dtypeArg = args.values.get('dtype') ?? 'f32';
  const dtype = own(DTYPES, dtypeArg);
  if (!dtype) throw new Error(`${CMD}: --dtype must be one of ${Object.keys(DTYPES).join(', ')}, got "${dtypeArg}"`);
  const inPath = args.values.get('in')!;
  const file = readSafetensors(inPath);
  const { model, steps } = readUNetFile(file, inPath, 'convert', configText(args.values.get('config')));
  if (dtype === 'F16') checkF16Range(model.tensors, inPath);
  // The steps it was trained for travel with it (the app's Models table and a re-import read them).
  writeSafetensors(args.values.get('out')!, model.tensors, steps > 0 ? { ...model.metadata, step: String(steps) } : model.metadata, dtype);
  const c = model.config;
  const what = file.metadata.format === FILE_FORMATS.checkpoint ? `a training checkpoint: its EMA weights at step ${steps}` : `${model.layout} layout${steps > 0 ? `, trained ${steps} steps` : ''}`;
  ctx.log(`${inPath} (${what}): ${model.tensors.size} tensors, ch=${c.ch} ch_mult=[${c.ch_mult}] num_res_blocks=${c.num_res_blocks} ` +
    `attn_resolutions=[${c.attn_resolutions}] resolution=${c.resolution} -> ${args.values.get('out')} (reference layout, ${dtype})`);
}
