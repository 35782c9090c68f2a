// The layered model's command-line contracts (research mode); sampling goes through `ddim sample`
// like any model file (its chain fixed by the file):
//   ddim train-step --weights L.safetensors --batch IN.safetensors --mode layer|end2end [--gt D|A|B] [--use-true-x-as-x]
//                   [--loss-weights] [--correction [--detach]] [--seed S] --out OUT.safetensors
//     IN holds x0 and noise; OUT gets losses [num_block - 1] (end2end: per step of the chain, largest t
//     first; layer: per sub-model, ascending t, as the reference file) and grad/models.<t>.<param>.
import { readFileSync } from 'node:fs';
import { readTensors, upload } from '../gpu/tensor';
import { getTensor } from '../io/safetensors';
import type { HostTensor, SafetensorsFile } from '../host/tensor';
import { LayerLosses, LayeredChain } from '../research/chain';
import { abarLossWeights, layeredFile, parseLayered, type LayeredDescription, type LayeredModel } from '../research/layered';
import type { LayeredObjective } from '../research/trainer';
import { GROUND_TRUTHS, groundTruth, type GroundTruth } from '../research/truth';
import { numberArg, parseArgs, type ParsedArgs } from './args';
import { readSafetensors, writeSafetensors } from './files';
import type { CommandContext } from './commands';

/** A layered model description from L.json, as the metadata of a layered file. */
export function layeredConfigFile(path: string): SafetensorsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read the layered config (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${path}: the layered config must be a JSON object with model, ch_num and diffusion`);
  return layeredFile(raw as LayeredDescription);
}

/** The options that choose a layered training objective, shared by `train-step` and `research train`. */
export const OBJECTIVE_VALUES = ['mode', 'gt'] as const;
export const OBJECTIVE_FLAGS = ['use-true-x-as-x', 'loss-weights', 'correction', 'detach'] as const;

export function objectiveArgs(args: ParsedArgs, cmd: string): LayeredObjective {
  const mode = args.values.get('mode')!;
  if (mode !== 'layer' && mode !== 'end2end') throw new Error(`${cmd}: --mode must be layer or end2end, got "${mode}"`);
  const groundTruth = (args.values.get('gt') ?? 'D') as GroundTruth;
  if (!GROUND_TRUTHS.includes(groundTruth)) throw new Error(`${cmd}: --gt must be one of ${GROUND_TRUTHS.join(', ')}, got "${groundTruth}"`);
  const end2endOnly = ['--gt', ...OBJECTIVE_FLAGS.map((f) => `--${f}`)];
  if (mode === 'layer' && (args.values.has('gt') || OBJECTIVE_FLAGS.some((f) => args.flags.has(f)))) throw new Error(`${cmd}: ${end2endOnly.join(', ')} apply to --mode end2end only`);
  if (args.flags.has('detach') && !args.flags.has('correction')) throw new Error(`${cmd}: --detach detaches the correction term; give it with --correction`);
  return {
    mode, groundTruth, useTrueXAsX: args.flags.has('use-true-x-as-x'), lossWeights: args.flags.has('loss-weights'),
    ...(args.flags.has('correction') ? { correction: { detach: args.flags.has('detach') } } : {}),
  };
}

function images(file: SafetensorsFile, name: string, m: LayeredModel, source: string, batch?: number): HostTensor {
  const c = m.configs.get(m.seq[0]!)!;
  const t = getTensor(file, name, undefined, source);
  const ok = t.shape.length === 4 && t.shape[0]! >= 1 && (batch === undefined || t.shape[0] === batch) &&
    t.shape[1] === c.in_channels && t.shape[2] === c.resolution && t.shape[3] === c.resolution;
  if (!ok) throw new Error(`${source}: tensor "${name}" has shape [${t.shape}], the layered model expects [${batch ?? 'N'},${c.in_channels},${c.resolution},${c.resolution}]`);
  return t;
}

export async function layeredTrainStep(argv: readonly string[], ctx: CommandContext, weights: SafetensorsFile): Promise<void> {
  const cmd = 'ddim train-step (layered)';
  const args = parseArgs(argv, { values: ['weights', 'batch', 'out', 'seed', ...OBJECTIVE_VALUES], flags: OBJECTIVE_FLAGS, required: ['weights', 'batch', 'out', 'mode'] }, cmd);
  const wPath = args.values.get('weights')!, inPath = args.values.get('batch')!, outPath = args.values.get('out')!;
  const objective = objectiveArgs(args, cmd);
  const { mode, groundTruth: gt } = objective;
  const seed = numberArg(args, 'seed', 0, cmd);
  const model = parseLayered(weights, wPath);
  const batch = readSafetensors(inPath);
  const x0 = images(batch, 'x0', model, inPath);
  const B = x0.shape[0]!;
  const noise = images(batch, 'noise', model, inPath, B);
  const { device: d } = await ctx.gpu();
  let losses: Float32Array[];
  let grads: Map<string, HostTensor>;
  const encoder = d.createCommandEncoder({ label: `layered ${mode}` });
  if (mode === 'layer') {
    const layer = new LayerLosses(d, model, B);
    layer.load(weights, wPath);
    upload(d, layer.x0, x0.data);
    upload(d, layer.noise, noise.data);
    layer.encode(encoder);
    d.queue.submit([encoder.finish()]);
    [losses, grads] = [await readTensors(d, layer.losses), await layer.readGrads()];
  } else {
    const chain = new LayeredChain(d, model, B, {
      teacherForcing: objective.useTrueXAsX, correction: objective.correction, lossWeights: objective.lossWeights ? abarLossWeights(model) : undefined,
    });
    chain.load(weights, wPath);
    groundTruth(gt, model, x0.data, noise.data, seed).forEach((x, k) => upload(d, chain.trueXs[k]!, x));
    chain.encodeEndToEnd(encoder);
    d.queue.submit([encoder.finish()]);
    [losses, grads] = [await readTensors(d, chain.losses), await chain.readGrads()];
  }
  const out = new Map<string, HostTensor>([['losses', { shape: [losses.length], data: Float32Array.from(losses, (l) => l[0]!) }]]);
  for (const [name, g] of grads) out.set(`grad/${name}`, g);
  writeSafetensors(outPath, out);
  ctx.log(`${mode}${mode === 'end2end' ? ` (ground truth ${gt})` : ''}: losses ${losses.map((l) => l[0]!.toPrecision(6)).join(', ')}; wrote ${out.size} tensors to ${outPath}`);
}
