// `ddim bench`: the engine's throughput on this machine's adapter, for comparison with PyTorch
// (tools/bench_torch.py times the same models; bench/gpu.sh runs both and prints the ratios).
//   ddim bench [--configs tiny,bundled,small] [--batches 1,8,64] [--iters 20] [--json OUT.json] [--profile]
//              [--gemm-tile 32x32|64x64|128x64] [--norm-on-load on|off]
// Per (config, batch): the UNet forward (eps from x, t) and one full training step (forward,
// backward, gradient clip, Adam, EMA). Weights are freshly initialised (the time is the same for any
// values). `iters` steps are submitted back to back and timed from the first submit to the
// completion of the last (queue.onSubmittedWorkDone), after 3 untimed warm-up runs that build the
// pipelines: steady-state GPU throughput, host uploads excluded, as PyTorch's side is timed.
// Every row also counts the dispatches of a forward and of a training step, and the megabytes the
// forward's dispatches write (whole output bindings): what kernel fusion removes, on any adapter.
// --profile adds, per (config, batch), the time of each kernel family in the forward and in the
// training step (gpu/profile.ts: GPU timestamps where the adapter has them, shares only otherwise).
// --gemm-tile forces every GEMM's output tile (shaders/gemm.wgsl; default: per dispatch,
// kernels/gemm.ts gemmTile), to measure where each tile pays.
// --norm-on-load forces whether convolutions normalise the GroupNorm outputs they read as they load
// them (on, the default where the adapter has 9 storage bindings) or read them written by the
// GroupNorm (off): kernels/conv2d.ts forceNormaliseOnLoad, to measure which pays on a GPU.
import { writeFileSync } from 'node:fs';
import { submitDispatches } from '../gpu/kernel';
import { formatProfile, profileDispatches, type Profile } from '../gpu/profile';
import { upload } from '../gpu/tensor';
import { initParameters } from '../nn/init';
import { UNet } from '../nn/unet';
import { gaussian } from '../host/rng';
import { TrainStep } from '../train/step';
import { forceGemmTile, GEMM_TILES } from '../kernels/gemm';
import { conv2dNormalisesOnLoad, forceNormaliseOnLoad } from '../kernels/conv2d';
import { DEFAULT_OPTIMIZER } from '../train/optimizer';
import { alphaBars, betaSchedule, DEFAULT_DIFFUSION } from '../diffusion/schedule';
import { numberArg, numberListArg, parseArgs, precisionArg } from './args';
import type { CommandContext } from './commands';
import { loadConfig } from './train';


async function timeSubmits(device: GPUDevice, iters: number, submit: (i: number) => void): Promise<number> {
  for (let i = 0; i < 3; i++) submit(i);
  await device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) submit(i);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / iters;
}

export interface BenchRow {
  config: string;
  parameters: number;
  batch: number;
  forward_ms: number;
  train_step_ms: number;
  forward_dispatches: number;
  train_step_dispatches: number;
  forward_mb_written: number;
  profile?: { forward: Profile; train_step: Profile };
}

export async function benchCommand(argv: readonly string[], ctx: CommandContext): Promise<void> {
  const cmd = 'ddim bench';
  const args = parseArgs(argv, { values: ['configs', 'batches', 'iters', 'json', 'gemm-tile', 'precision', 'norm-on-load'], flags: ['profile'] }, cmd);
  const configs = (args.values.get('configs') ?? 'tiny,bundled').split(',');
  const batches = numberListArg(args, 'batches', [1, 8], cmd);
  if (batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`${cmd}: --batches must be positive integers, got "${args.values.get('batches')}"`);
  const iters = numberArg(args, 'iters', 20, cmd);
  if (!Number.isInteger(iters) || iters < 1) throw new Error(`${cmd}: --iters must be a positive integer, got ${iters}`);
  const tileArg = args.values.get('gemm-tile');
  const tile = tileArg === undefined ? undefined : Object.hasOwn(GEMM_TILES, tileArg) ? GEMM_TILES[tileArg] : undefined;
  if (tileArg !== undefined && !tile) throw new Error(`${cmd}: --gemm-tile must be one of ${Object.keys(GEMM_TILES).join(', ')}, got "${tileArg}"`);
  const normArg = args.values.get('norm-on-load');
  if (normArg !== undefined && normArg !== 'on' && normArg !== 'off') throw new Error(`${cmd}: --norm-on-load must be on or off, got "${normArg}"`);
  const { device: d, adapter, tier } = await ctx.gpu(precisionArg(args, cmd));
  forceGemmTile(d, tile);
  forceNormaliseOnLoad(d, normArg === undefined ? undefined : normArg === 'on');
  const normOnLoad = conv2dNormalisesOnLoad(d);
  const abar = alphaBars(betaSchedule(DEFAULT_DIFFUSION));
  const rows: BenchRow[] = [];
  ctx.log(`adapter: ${adapter}; precision ${tier}${tileArg ? `; every GEMM on ${tileArg} tiles` : ''}; GroupNorm outputs ${normOnLoad ? 'normalised on load' : 'written'}`);
  ctx.log('config     params  batch   forward ms   img/s   train step ms   img/s   dispatches fwd/step   fwd MB written');
  for (const name of configs) {
    const config = loadConfig(name);
    for (const B of batches) {
      const n = B * config.in_channels * config.resolution ** 2;
      const t = Float32Array.from({ length: B }, (_, i) => (37 + 125 * i) % 1000);
      const net = new UNet(d, config, { batch: B, label: 'bench' });
      upload(d, net.params.flat, initParameters(net.layout, 0));
      upload(d, net.x, gaussian(0, 0, 0, n));
      upload(d, net.t, t);
      const forward = await timeSubmits(d, iters, () => submitDispatches(d, net.forward, 'bench forward'));
      const step = new TrainStep(d, config, B, DEFAULT_OPTIMIZER, 'bench');
      upload(d, step.net.params.flat, initParameters(step.net.layout, 0));
      upload(d, step.x0, gaussian(1, 0, 0, n).map((v) => Math.tanh(v)));
      upload(d, step.noise, gaussian(2, 0, 0, n));
      step.setTimesteps(t, abar);
      const train = await timeSubmits(d, iters, (i) => {
        const e = d.createCommandEncoder({ label: 'bench train step' });
        step.encode(e, i + 1);
        d.queue.submit([e.finish()]);
      });
      const written = net.forward.reduce((sum, x) => sum + x.bytesWritten, 0) / 2 ** 20;
      const row: BenchRow = {
        config: name, parameters: net.layout.count, batch: B, forward_ms: forward, train_step_ms: train,
        forward_dispatches: net.forward.length, train_step_dispatches: step.dispatches.length, forward_mb_written: Number(written.toFixed(3)),
      };
      rows.push(row);
      ctx.log(`${name.padEnd(8)}${net.layout.count.toLocaleString('en-US').padStart(10)}${String(B).padStart(7)}${forward.toFixed(3).padStart(13)}${((1000 * B) / forward).toFixed(0).padStart(8)}${train.toFixed(3).padStart(16)}${((1000 * B) / train).toFixed(0).padStart(8)}`
        + `${`${net.forward.length}/${step.dispatches.length}`.padStart(21)}${written.toFixed(2).padStart(17)}`);
      if (args.flags.has('profile')) {
        const profileIters = Math.min(iters, 5);
        row.profile = { forward: await profileDispatches(d, net.forward, profileIters), train_step: await profileDispatches(d, step.dispatches, profileIters) };
        for (const line of formatProfile(`  ${name} batch ${B} forward`, row.profile.forward)) ctx.log(line);
        for (const line of formatProfile(`  ${name} batch ${B} training step`, row.profile.train_step)) ctx.log(line);
      }
    }
  }
  const out = args.values.get('json');
  if (out) writeFileSync(out, JSON.stringify({ adapter, precision: tier, iters, gemm_tile: tileArg ?? 'per shape', norm_on_load: normOnLoad, rows }, null, 1) + '\n');
}
