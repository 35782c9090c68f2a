// `ddim <command>` as a function: the command table, the usage text and the error handling, over a
// GPU given by the caller (the process entry, main.ts, acquires one on first use; the tests pass
// theirs, so the commands run in-process without a process and pipeline compiles per command).
import { forwardCommand, trainStepCommand, type CommandContext } from './commands';
import { sampleCommand } from './sample';
import { trainCommand } from './train';
import { evalCommand } from './eval';
import { convertCommand } from './convert';
import { invertCommand } from './invert';
import { researchCommand } from './research';
import { benchCommand } from './bench';
import { own } from '../host/own';

const COMMANDS: Record<string, (argv: readonly string[], ctx: CommandContext) => Promise<void>> = {
  forward: forwardCommand,
  'train-step': trainStepCommand,
  sample: sampleCommand,
  train: trainCommand,
  eval: evalCommand,
  convert: convertCommand,
  invert: invertCommand,
  research: researchCommand,
  bench: benchCommand,
};

const USAGE = `usage: ddim <command> [options]
  W.safetensors: the reference layout, a training checkpoint (its EMA weights) or diffusers' UNet2DModel
  (diffusion_pytorch_model.safetensors); --config config.json gives a diffusers model its config.
  forward     --weights W.safetensors [--config config.json] --input IN.safetensors --out OUT.safetensors
  train-step  --weights W.safetensors [--config config.json] --batch IN.safetensors --out OUT.safetensors [--lr 2e-4] [--grad-clip 1.0] [--ema 0.9999]
  sample      --weights W.safetensors|--ideal DATA [--config config.json] --out OUT.png|OUT.safetensors [--steps 50] [--eta 0] [--sampler generalized|ddpm_noisy]
              [--skip uniform|quad|leading|trailing|linspace] [--seed S] [--n N] [--init IN.safetensors] [--clip-x0]
              [--use-clipped-model-output] [--x0-grid] [--interpolate FRAMES]
  train       --data emoji16|emoji32|DIR --steps N --out CKPT.safetensors [--config tiny|bundled|small|cifar10|config.json]
              [--batch 32] [--lr 2e-3] [--warmup 200] [--lr-decay cosine|none] [--decay-steps N] [--lr-min 0.1]
              [--ema 0.999] [--no-ema-warmup] [--loss-weight min_snr|none] [--snr-gamma 5] [--grad-clip 1] [--seed 0]
              [--no-flip] [--resume CKPT.safetensors] [--log-every 10]   (defaults: the recipe of docs/recipes; --steps: steps to train
              now, after the checkpoint's with --resume, which keeps the run's own model and recipe)
  eval        --weights W.safetensors [--config config.json] --data emoji16|emoji32|DIR [--steps 10,20,50,100] [--eta 0,1] [--n 64] [--seed 0] [--no-ddpm]
  eval        --samples S.safetensors --data emoji16|emoji32|DIR [--size 16]   (scores a given set: samples, or the last frame of xs)
  W.safetensors may also be a layered model (research mode): sample, eval and the research commands run its own
  chain (--steps, --skip, --eta and --sampler do not apply), invert refuses it.
  (layered)   train-step --weights L.safetensors --batch IN.safetensors --mode layer|end2end [--gt D|A|B] [--use-true-x-as-x] [--seed 0] --out OUT.safetensors
  research train --config L.json|--init L.safetensors|--resume CKPT.safetensors --mode layer|end2end [--gt D|A|B] [--use-true-x-as-x]
              [--loss-weights] [--correction [--detach]] --data emoji16|DIR --steps N --out CKPT.safetensors [--batch 16] [--lr 2e-4]
              [--ema 0.9999] [--grad-clip 1] [--seed 0] [--precision fp32|f16|matrix|matrix-emulated]
  research oneshot|firststep --weights A.safetensors[,B.safetensors,ideal:DATA] --data emoji16|DIR [--n N] [--num-block K] [--seed 0] [--csv OUT.csv]
              [--png OUT.png]   (--png: firststep only, a row of first-step x0 and a row of final samples per model)
  research budget --data emoji16|DIR --evals E --layered-config L.json [--time-config tiny|config.json] [--arms time,recipe,layer,end2end]
              [--points 5] [--samples 64] [--time-batch 64] [--recipe-batch 32] [--layered-batch 16] [--lr 1e-3] [--ema 0.999] --csv OUT.csv [--out-dir DIR]
  invert      --weights W.safetensors [--config config.json] --image IN.png|DIR --out XT.safetensors [--steps 50] [--skip uniform]
  convert     --in MODEL.safetensors --out W.safetensors [--config config.json] [--dtype f32|f16]   (reference or diffusers UNet2DModel layout, or a training checkpoint's EMA weights, in)
  bench       [--configs tiny,bundled,small|config.json] [--batches 1,8] [--iters 20] [--json OUT.json] [--profile] [--gemm-tile 32x32|64x64|128x64] [--norm-on-load on|off]   (forward and train-step throughput; --profile: ms per kernel family; --gemm-tile: one GEMM tile everywhere; --norm-on-load: GroupNorm outputs normalised by their convolutions or written)
  --precision auto|fp32|f16|matrix|matrix-emulated   (forward, train-step, sample, train, research train, bench) the GEMMs' arithmetic: fp32 (auto);
              f16 operands in f16 tiles (shader-f16); matrix: subgroup matrices; matrix-emulated: the matrix tier's rounding on any adapter
usage: ddim [--gpu-features default|unsafe] <command> ...   unsafe: Dawn's toggles that expose shader-f16 and subgroup matrices
Environment: DDIM_GPU=hardware uses a real GPU adapter (default: SwiftShader, the CPU WebGPU); DDIM_GPU_FEATURES=unsafe as --gpu-features.`;

/** The usage lines of one command (an entry of USAGE starting with its name, and the lines that
 *  continue it), with the options every command shares. */
function usageOf(name: string): string {
  const lines = USAGE.split('\n');
  const picked: string[] = [];
  let mine = false;
  for (const line of lines) {
    const entry = /^ {2}(\(layered\) {3})?([a-z-]+)\b/.exec(line);
    if (entry && !line.startsWith('    ')) mine = entry[2] === name;
    else if (!line.startsWith('              ')) mine = false;
    if (mine) picked.push(line);
  }
  const shared = lines.filter((l) => l.startsWith('  --precision') || l.startsWith('              f16 operands'));
  return [`usage: ddim ${name} [options]`, ...picked, ...shared].join('\n');
}

export interface CliIo {
  /** The GPU, acquired on the first call (after the command has checked its arguments) with the
   *  precision the command asks for. */
  gpu: CommandContext['gpu'];
  log: (line: string) => void;
  error: (line: string) => void;
}

/** Runs one command line; returns the exit status (0 done, 1 the command failed, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    io.log(USAGE);
    return name ? 0 : 2;
  }
  // `ddim help sample` and `ddim sample --help`: that command's usage.
  const asked = name === 'help' ? rest[0] : rest.includes('--help') || rest.includes('-h') ? name : undefined;
  if (name === 'help' && !asked) {
    io.log(USAGE);
    return 0;
  }
  if (asked !== undefined && own(COMMANDS, asked)) {
    io.log(usageOf(asked));
    return 0;
  }
  const command = own(COMMANDS, name);
  if (!command) {
    io.error(`ddim: unknown command "${name}"; \`ddim --help\` lists the commands`);
    return 2;
  }
  try {
    await command(rest, { gpu: io.gpu, log: io.log });
    return 0;
  } catch (e) {
    // One prefix: messages that already name the command keep theirs.
    const message = e instanceof Error ? e.message : String(e);
    io.error(message.startsWith('ddim ') ? message : `ddim ${name}: ${message}`);
    return 1;
  }
}
