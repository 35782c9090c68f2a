// The CLI contracts end to end: `ddim forward` and `ddim sample` reproduce the reference files, the
// commands write what they say, and bad input exits non-zero with a message naming the file and the
// problem. `ddim train-step` against unet-tiny.train is tests/gpu/train.test.ts.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { getTensor, serializeSafetensors } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/host/tensor';
import { f16Round } from '../../src/host/f16';
import { loadReference, oneSample } from '../unit/ref-helpers';
import { expectMaxAbs, useGpu } from './harness';
import { expectGradients } from './train-golden';
import { inProcessCli, readOutput } from './cli-harness';
import { TINY_DIFFUSERS_CONFIG, toDiffusers } from '../fixtures/diffusers';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const REF = new URL('../../../shared/reference/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ddim-cli-'));

const gpu = useGpu();

const ddim = inProcessCli(gpu);

/** The `ddim` binary itself (bin/ddim.mjs and the bundled CLI), as a user runs it. */
async function ddimProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [join(ROOT, 'bin/ddim.mjs'), ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const read = readOutput;

// The commands run in-process on one device (runCli); two tests run the binary as a process.
describe('ddim CLI', { timeout: 400_000 }, () => {
  it('the ddim binary: forward reproduces unet-tiny.forward eps', async () => {
    const out = join(dir, 'eps.safetensors');
    const r = await ddimProcess('forward', '--weights', REF + 'unet-tiny.safetensors', '--input', REF + 'unet-tiny.forward.safetensors', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expectMaxAbs(getTensor(read(out), 'eps').data, getTensor(loadReference('unet-tiny.forward.safetensors'), 'eps').data, 1e-4, 'cli eps');
  });

  it('sample replays a reference trajectory from --init (x_T, seq, noises)', async () => {
    const golden = loadReference('unet-tiny.samplers.safetensors');
    const run = 'ddim_uniform10_eta1';
    const init = join(dir, 'init.safetensors');
    // One sample of the reference's batch (SwiftShader time is per image): x_T, its noises, its xs.
    writeFileSync(init, serializeSafetensors(new Map([
      ['xT', oneSample(getTensor(golden, 'xT'), 0)], ['seq', getTensor(golden, `${run}/seq`)], ['noises', oneSample(getTensor(golden, `${run}/noises`), 1)],
    ])));
    const out = join(dir, 'traj.safetensors');
    const r = await ddim('sample', '--weights', REF + 'unet-tiny.safetensors', '--init', init, '--eta', '1', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const f = read(out);
    const xs = getTensor(f, 'xs', [11, 1, 3, 16, 16]).data, ref = oneSample(getTensor(golden, `${run}/xs`), 1).data;
    const n = 3 * 16 * 16;
    for (let k = 0; k <= 10; k++) expectMaxAbs(xs.subarray(k * n, (k + 1) * n), ref.subarray(k * n, (k + 1) * n), 1e-3, `cli xs[${k}]`);
    expectMaxAbs(getTensor(f, 'x0_preds', [10, 1, 3, 16, 16]).data, oneSample(getTensor(golden, `${run}/x0_preds`), 1).data, 1e-3, 'cli x0_preds');
  });

  it('sample writes a PNG grid and the x0 filmstrip from the seeded GPU RNG; an interpolation strip starts at the same sample', async () => {
    const a = join(dir, 'a.png'), strip = join(dir, 'strip.safetensors');
    for (const [out, extra] of [[a, ['--n', '1', '--x0-grid']], [strip, ['--interpolate', '3']]] as const) {
      const r = await ddim('sample', '--weights', REF + 'unet-tiny.safetensors', '--steps', '2', '--seed', '7', ...extra, '--out', out);
      expect(r.code, r.stderr).toBe(0);
    }
    const bytes = readFileSync(a);
    expect([...bytes.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBe(16 + 2 * 2); // 1 column of 16 px and its 2 margins
    expect(readFileSync(a.replace('.png', '.x0.png')).readUInt32BE(16)).toBe(2 * 16 + 3 * 2); // 2 steps
    // The strip's first frame is x_T of seed 7, the sample the PNG shows: the same pixels (the seeded GPU RNG repeats).
    const n = 3 * 16 * 16;
    const s = getTensor(read(strip), 'xs', [3, 3, 3, 16, 16]).data;
    const frame0 = s.subarray(2 * 3 * n, 2 * 3 * n + n);
    const { data, info } = await sharp(a).raw().toBuffer({ resolveWithObject: true });
    const at = (c: number, y: number, x: number): number => data[((y + 2) * info.width + x + 2) * info.channels + c]!;
    let worst = 0;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
      const v = Math.round((Math.min(1, Math.max(-1, frame0[c * 256 + y * 16 + x]!)) + 1) * 127.5);
      worst = Math.max(worst, Math.abs(v - at(c, y, x)));
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('train writes a resumable checkpoint and a loss log on the bundled emoji', async () => {
    const ckpt = join(dir, 'ckpt.safetensors');
    const r = await ddim('train', '--data', 'emoji16', '--steps', '2', '--batch', '1', '--log-every', '1', '--seed', '3', '--out', ckpt);
    expect(r.code, r.stderr).toBe(0);
    // The default model at 16 px is the bundled one's architecture, the one the recipe's milestones were measured on.
    expect(r.stdout).toMatch(/model: 1,113,955 parameters; GPU memory at batch 1: [\d.]+ MiB \(weights, gradients, Adam, EMA [\d.]+ MiB; activations [\d.]+ MiB\)/);
    expect(r.stdout).toMatch(/\(the recipe search: the bundled architecture \(ch 32, ch_mult \[1, 2, 2\] · 1 res block · attention at \[8\] px · 16 px\) on the emoji\)\./);
    expect(r.stdout).toMatch(/step 2\/2 {2}loss [\d.]+ {2}[\d.]+ img\/s {2}ETA 0 s/);
    const f = read(ckpt);
    expect(f.metadata.format).toBe('ddim-checkpoint');
    expect(f.metadata.step).toBe('2');
    expect(f.metadata.dataset).toBe('emoji16/train');
    // The recipe the search picked is the default, its cosine decay over the run's steps.
    expect(JSON.parse(f.metadata.trainer!)).toMatchObject({ batch: 1, lr: 2e-3, warmupSteps: 200, lrDecay: 'cosine', decaySteps: 2, emaWarmup: true, lossWeight: 'min_snr', snrGamma: 5 });
    expect([...f.tensors.keys()].filter((n) => n.startsWith('ema/')).length).toBe(read('public/models/emoji16.safetensors').tensors.size);
    const log = readFileSync(join(dir, 'ckpt.loss.csv'), 'utf8').trim().split('\n');
    expect(log[0]).toBe('step,loss');
    expect(log.slice(1).map((l) => l.split(',')[0])).toEqual(['1', '2']);

    // A checkpoint samples and evaluates with its EMA weights.
    const e = await ddim('eval', '--weights', ckpt, '--data', 'emoji16', '--steps', '2', '--eta', '0', '--n', '3', '--no-ddpm');
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/ddim eta=0 +2 +\d+\.\d{3} +\d+\.\d% +\d\.\d{4} +\d\.\d{4}/);
    // convert says it takes the EMA weights, and they keep the steps they were trained for.
    const weights = join(dir, 'ema.safetensors');
    const c = await ddim('convert', '--in', ckpt, '--out', weights);
    expect(c.stdout).toMatch(/ckpt\.safetensors \(a training checkpoint: its EMA weights at step 2\): 1\d\d tensors/);
    expect(read(weights).metadata.step).toBe('2');
  });

  it('train takes a folder of the user\'s images, resized to the model', async () => {
    const images = join(dir, 'my-images');
    mkdirSync(images);
    for (let i = 0; i < 3; i++) {
      const background = { r: 40 * i, g: 200, b: 90, alpha: 1 };
      writeFileSync(join(images, `img${i}.png`), await sharp({ create: { width: 40 + i, height: 30, channels: 4, background } }).png().toBuffer());
    }
    const ckpt = join(dir, 'mine.safetensors');
    const r = await ddim('train', '--data', images, '--config', 'tiny', '--steps', '1', '--batch', '2', '--out', ckpt);
    expect(r.code, r.stderr).toBe(0);
    expect(read(ckpt).metadata.dataset).toBe(`${images}/train`);
  });

  it('convert turns a diffusers UNet2DModel file into the reference layout with the same eps', async () => {
    const diffusers = join(dir, 'diffusion_pytorch_model.safetensors'), config = join(dir, 'config.json'), out = join(dir, 'converted.safetensors');
    writeFileSync(diffusers, serializeSafetensors(toDiffusers(loadReference('unet-tiny.safetensors'), 2, 'old').tensors));
    writeFileSync(config, JSON.stringify(TINY_DIFFUSERS_CONFIG));
    const r = await ddim('convert', '--in', diffusers, '--config', config, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\(diffusers layout\): 144 tensors, ch=32 ch_mult=\[1,2\] num_res_blocks=1 attn_resolutions=\[8\] resolution=16 -> .* \(reference layout, F32\)$/);
    const eps = join(dir, 'converted-eps.safetensors');
    const f = await ddim('forward', '--weights', out, '--input', REF + 'unet-tiny.forward.safetensors', '--out', eps);
    expect(f.code, f.stderr).toBe(0);
    expectMaxAbs(getTensor(read(eps), 'eps').data, getTensor(loadReference('unet-tiny.forward.safetensors'), 'eps').data, 1e-4, 'eps of the converted model');
    // Every command opens the diffusers file with its config.json as the page's import does.
    const direct = join(dir, 'direct-eps.safetensors');
    const g = await ddim('forward', '--weights', diffusers, '--config', config, '--input', REF + 'unet-tiny.forward.safetensors', '--out', direct);
    expect(g.code, g.stderr).toBe(0);
    expect(getTensor(read(direct), 'eps').data).toEqual(getTensor(read(eps), 'eps').data);
    const s = await ddim('sample', '--weights', diffusers, '--config', config, '--steps', '1', '--n', '1', '--out', join(dir, 'diffusers.png'));
    expect(s.code, s.stderr).toBe(0);
    const bad = await ddim('convert', '--in', config, '--out', join(dir, 'never.safetensors'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/config\.json: not a safetensors file|config\.json: .*header/);
    // --dtype f16: the same tensors and metadata in F16, each value the reference's rounded to f16.
    const half = join(dir, 'converted-f16.safetensors');
    const h = await ddim('convert', '--in', out, '--out', half, '--dtype', 'f16');
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/\(reference layout, F16\)$/);
    const [full, small] = [read(out), read(half)];
    expect(small.metadata).toEqual(full.metadata);
    expect([...small.tensors.keys()]).toEqual([...full.tensors.keys()]);
    for (const [name, t] of full.tensors) {
      expect(small.dtypes.get(name), name).toBe('F16');
      expect(Array.from(small.tensors.get(name)!.data), name).toEqual(Array.from(t.data, f16Round));
    }
    // A weight F16 cannot hold is refused by name, not written as inf.
    const tooBig = join(dir, 'too-big.safetensors');
    const [name0, t0] = [...full.tensors][0]!;
    writeFileSync(tooBig, serializeSafetensors(new Map([...full.tensors].map(([n, t]) => [n, n === name0 ? { shape: t0.shape, data: t0.data.map((v, i) => (i === 3 ? -1e5 : v)) } : t])), full.metadata));
    const over = await ddim('convert', '--in', tooBig, '--out', join(dir, 'never.safetensors'), '--dtype', 'f16');
    expect(over.code).toBe(1);
    expect(over.stderr).toContain(`ddim convert: ${tooBig}: tensor "${name0}" holds -100000, beyond f16's largest value 65504; keep --dtype f32`);
    const wrong = await ddim('convert', '--in', out, '--out', join(dir, 'never.safetensors'), '--dtype', 'bf16');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/ddim convert: --dtype must be one of f32, f16, got "bf16"/);
  });

  // The CLI's plumbing for layered files; tests/gpu/layered.test.ts checks the end-to-end objective on the same goldens.
  it('layered files: sample writes the chain, train-step gives the layer losses and gradients', async () => {
    const golden = loadReference('layered4.golden.safetensors');
    const L = REF + 'layered4.safetensors';
    const init = join(dir, 'layered-init.safetensors'), batch = join(dir, 'layered-batch.safetensors');
    writeFileSync(init, serializeSafetensors(new Map([['xT', getTensor(golden, 'xT')]])));
    writeFileSync(batch, serializeSafetensors(new Map([['x0', getTensor(golden, 'x0')], ['noise', getTensor(golden, 'noise')]])));
    const xsPath = join(dir, 'layered-xs.safetensors');
    const r = await ddim('sample', '--weights', L, '--init', init, '--out', xsPath);
    expect(r.code, r.stderr).toBe(0);
    expectMaxAbs(getTensor(read(xsPath), 'xs', [4, 2, 3, 16, 16]).data, getTensor(golden, 'sample/xs').data, 1e-3 * 3, 'layered xs');
    for (const [mode, lossName, gradPrefix] of [['layer', 'layer/losses', 'layer_grad/']] as const) {
      const out = join(dir, `layered-${mode}.safetensors`);
      const t = await ddim('train-step', '--weights', L, '--batch', batch, '--mode', mode, '--out', out);
      expect(t.code, t.stderr).toBe(0);
      const f = read(out);
      const losses = getTensor(f, 'losses', [3]).data, ref = getTensor(golden, lossName).data;
      losses.forEach((l, k) => expect(Math.abs(l - ref[k]!) / ref[k]!).toBeLessThanOrEqual(1e-5));
      const grads = new Map([...f.tensors].filter(([n]) => n.startsWith('grad/')).map(([n, v]) => [n.slice(5), v]));
      expect(grads.size).toBe(372); // 3 sub-models (t = 250, 500, 750) x 124 tensors
      expectGradients(grads, golden, gradPrefix);
    }
    const bad = await ddim('train-step', '--weights', L, '--batch', batch, '--mode', 'joint', '--out', join(dir, 'x.safetensors'));
    expect(bad.stderr).toMatch(/--mode must be layer or end2end, got "joint"/);
  });

  it('research: train a layered model from a config, resume it, and run the one-shot and first-step experiments on it', async () => {
    const ref = loadReference('layered4.safetensors');
    const config = join(dir, 'layered.json');
    // layered4's structure at ch 8 without attention: cheap on SwiftShader.
    writeFileSync(config, JSON.stringify({ model: { ...JSON.parse(ref.metadata.model!), attn_resolutions: [] }, ch_num: [{ value: 8, num: 4 }], diffusion: JSON.parse(ref.metadata.diffusion!) }));
    const out = join(dir, 'trained-layered.safetensors');
    const r = await ddim('research', 'train', '--config', config, '--mode', 'layer', '--data', 'emoji16', '--steps', '1', '--batch', '1', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/layer: 3 sub-models trained \(t = 250, 500, 750\)/);
    expect(r.stdout).toMatch(/layered model: [\d,]+ parameters; GPU memory at batch 1: [\d.]+ MiB/);
    const f = read(out);
    expect(f.metadata.format).toBe('ddim-layered');
    const weights = [...f.tensors.keys()].filter((n) => n.startsWith('models.'));
    const per = weights.filter((n) => n.startsWith('models.0.')).length;
    expect(weights.length).toBe(4 * per);
    expect(f.tensors.size).toBe(4 * per + 3 * 3 * per); // + model/, adam_m/, adam_v/ of the three trained sub-models
    expect(readFileSync(join(dir, 'trained-layered.loss.csv'), 'utf8').split('\n')[0]).toBe('step,loss0,loss1,loss2,total');
    const more = await ddim('research', 'train', '--resume', out, '--data', 'emoji16', '--steps', '1', '--out', out);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stdout).toMatch(/resumed .* at step 1/);
    expect(read(out).metadata.step).toBe('2');
    expect(readFileSync(join(dir, 'trained-layered.loss.csv'), 'utf8').trim().split('\n').map((l) => l.split(',')[0])).toEqual(['step', '1', '2']);
    const bad = await ddim('research', 'train', '--resume', out, '--mode', 'end2end', '--data', 'emoji16', '--steps', '1', '--out', out);
    expect(bad.stderr).toMatch(/--resume continues with the run's own settings; drop --mode/);

    // Experiments 1 and 2 on the layered file and the tiny time-conditioned model, over seq 0, 250, 500, 750.
    const csv = join(dir, 'oneshot.csv');
    const one = await ddim('research', 'oneshot', '--weights', `${out},${REF}unet-tiny.safetensors`, '--data', 'emoji16', '--n', '2', '--csv', csv);
    expect(one.code, one.stderr).toBe(0);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('model,kind,t,chain_steps,one_shot_mse,chain_mse,one_shot_fd,chain_fd,one_shot_roughness,chain_roughness,fd_real,fd_noise');
    expect(rows.slice(1).map((l) => l.split(',').slice(1, 4).join(','))).toEqual(['layered,250,1', 'layered,500,2', 'layered,750,3', 'time,250,1', 'time,500,2', 'time,750,3']);
    // One step from t = 250 is the same update either way: the chain's x at 0 and the one-shot x0 are nearly equal.
    const timeRow = rows.find((l) => l.includes(',time,250,'))!.split(',').map(Number);
    expect(Math.abs(timeRow[4]! - timeRow[5]!)).toBeLessThan(0.1 * timeRow[4]! + 2e-3);
    const first = await ddim('research', 'firststep', '--weights', `${REF}unet-tiny.safetensors`, '--num-block', '4', '--data', 'emoji16', '--n', '2', '--png', join(dir, 'first.png'));
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/unet-tiny\.safetensors\s+time\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
    expect((await sharp(join(dir, 'first.png')).metadata()).height).toBeGreaterThan(2 * 16);
  });

  it('the ddim binary rejects bad input with one clear line and a non-zero exit, before acquiring a GPU', async () => {
    const w = REF + 'unet-tiny.safetensors';
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, serializeSafetensors(new Map<string, HostTensor>([
      ['x', { shape: [1, 3, 8, 8], data: new Float32Array(192) }], ['t', { shape: [1], data: new Float32Array(1) }],
    ])));
    // The tiny model on the jsd schedule (its last beta is 1: alpha-bar at t = 999 is 0), and a ch-16 UNet
    // whose metadata asks for 32 GroupNorm groups (as a string, as older files write it).
    const tiny = loadReference('unet-tiny.safetensors'), narrow = loadReference('unet-layered.safetensors');
    const jsd = join(dir, 'jsd.safetensors'), groups = join(dir, 'groups.safetensors');
    writeFileSync(jsd, serializeSafetensors(tiny.tensors, { ...tiny.metadata, diffusion: JSON.stringify({ ...JSON.parse(tiny.metadata.diffusion!), beta_schedule: 'jsd' }) }));
    writeFileSync(groups, serializeSafetensors(narrow.tensors, { ...narrow.metadata, model: JSON.stringify({ ...JSON.parse(narrow.metadata.model!), norm_groups: '32' }) }));
    const layered = REF + 'layered4.safetensors';
    const copy = join(dir, 'copy.safetensors');
    copyFileSync(w, copy);
    const cases: [string[], RegExp][] = [
      [['forward', '--weights', w, '--input', bad, '--out', join(dir, 'o.safetensors')], /bad\.safetensors: tensor "x" has shape \[1,3,8,8\], model expects \[1,3,16,16\]/],
      [['forward', '--weights', w, '--input', w, '--out', join(dir, 'o.safetensors')], /missing tensor "x"/],
      [['forward', '--weights', join(dir, 'nope.safetensors'), '--input', bad, '--out', join(dir, 'o.safetensors')], /nope\.safetensors: cannot read \(ENOENT\)/],
      [['forward', '--weights', w, '--input', bad], /missing --out/],
      [['train-step', '--weights', w, '--batch', REF + 'unet-tiny.forward.safetensors', '--out', join(dir, 'o.safetensors')], /missing tensor "x0"/],
      [['train-step', '--weights', w, '--batch', bad, '--out', join(dir, 'o.safetensors'), '--lr', 'fast'], /--lr must be a decimal number, got "fast"/],
      [['sample', '--weights', w, '--out', join(dir, 's.png'), '--steps', '0x10'], /ddim sample: --steps must be a decimal number, got "0x10"/],
      [['sample', '--weights', w, '--out', join(dir, 's.png'), '--eta', '2'], /ddim sample: eta must be in \[0, 1\]/],
      [['sample', '--weights', w, '--out', dir], /ddim sample: --out: ".*" is a folder; give a file name/],
      [['sample', '--weights', w, '--out', join(dir, 'no', 'such', 's.png')], /ddim sample: --out: the folder ".*such" does not exist/],
      [['convert', '--in', w, '--out', dir], /ddim convert: --out: ".*" is a folder; give a file name/],
      [['train', '--data', 'emoji16', '--steps', '1', '--out', join(dir, 'c.safetensors'), '--lr', '1e6'], /ddim train: --lr must be a number in \(0, 1\), got 1000000/],
      [['train', '--data', 'emoji16', '--steps', '1', '--out', join(dir, 'c.safetensors'), '--loss-weight', 'p2'], /ddim train: --loss-weight must be one of none, min_snr, got "p2"/],
      // A flag twice, an output over an input, a resumed run's settings, a checkpoint's name, the log interval.
      [['sample', '--weights', w, '--out', join(dir, 's.png'), '--steps', '1', '--steps=2'], /^ddim sample: --steps is given twice$/m],
      [['sample', '--weights', copy, '--out', copy], /^ddim sample: --out is the file given as --weights, which writing it would overwrite; choose another path$/m],
      [['train', '--data', 'emoji16', '--steps', '1', '--out', join(dir, 'c.safetensors'), '--resume', w, '--lr', '1e-3', '--no-flip'], /^ddim train: --resume continues with the run's own settings; drop --lr, --no-flip$/m],
      [['train', '--data', 'emoji16', '--steps', '1', '--out', join(dir, 'c.png')], /^ddim train: --out .*c\.png: a training checkpoint is a \.safetensors file$/m],
      [['train', '--data', 'emoji16', '--steps', '1', '--out', join(dir, 'c.safetensors'), '--log-every', '0'], /^ddim train: --log-every must be a whole number of steps from 1, got 0$/m],
      [['eval', '--weights', w, '--data', 'emoji16', '--eta', '0,abc'], /ddim eval: --eta must be a comma-separated list of decimal numbers, got "0,abc"/],
      [['sample', '--weights', w, '--out', join(dir, 's.png'), '--sampler', 'ddim'], /ddim sample: sampler must be one of generalized, ddpm_noisy, got "ddim"/],
      // The page's limit, checked by the same function (app/sampling.ts).
      [['sample', '--weights', w, '--out', join(dir, 's.png'), '--n', '65'], /ddim sample: batch size must be an integer in \[1, 64\], got 65/],
      [['sample', '--weights', w, '--out', join(dir, 's.png'), '--interpolate', '1'], /ddim sample: frames must be an integer in \[2, 64\], got 1/],
      [['sample', '--weights', w, '--out', join(dir, 's.jpg')], /--out must end in \.png or \.safetensors/],
      [['sample', '--weights', w, '--out', join(dir, 's.png'), '--init', bad], /missing tensor "xT"/],
      [['train', '--data', 'cifar', '--steps', '1', '--out', join(dir, 'c.safetensors')], /--data must be emoji16, emoji32 or a folder of PNG\/JPEG\/WebP images, got "cifar"/],
      [['train', '--data', 'emoji16', '--steps', '1', '--out', join(dir, 'c.safetensors'), '--config', 'small'], /emoji16\/train: images are 3x16x16, the model takes 3x32x32/],
      [['train', '--data', 'emoji16', '--steps', '1', '--out', join(dir, 'c.safetensors'), '--resume', w], /not a training checkpoint/],
      [['eval', '--weights', w, '--data', 'emoji32'], /is a 16 px model, --data is 32 px/],
      [['eval', '--weights', w, '--data', 'emoji16', '--n', '1'], /--n must be an integer >= 2/],
      // The Research tab's limits, from app/research.ts.
      [['research', 'firststep', '--weights', w, '--data', 'emoji16', '--n', '1'], /ddim research firststep: the number of samples \(a covariance needs two\) must be an integer in \[2, 1024\], got 1/],
      [['research', 'train', '--config', bad, '--mode', 'end2end', '--detach', '--data', 'emoji16', '--steps', '1', '--out', join(dir, 'l.safetensors')], /ddim research train: --detach detaches the correction term; give it with --correction/],
      [['research', 'budget', '--data', 'emoji16', '--evals', '1000', '--layered-config', bad, '--csv', join(dir, 'b.csv'), '--lr', '2'], /ddim research budget: lr must be a number in \(0, 1\), got 2/],
      [['bench', '--configs', 'tiny', '--gemm-tile', '96x64'], /ddim bench: --gemm-tile must be one of 32x32, 64x64, 128x64, got "96x64"/],
      [['bench', '--configs', 'tiny', '--norm-on-load', 'maybe'], /ddim bench: --norm-on-load must be on or off, got "maybe"/],
      [['sample-all'], /^ddim: unknown command "sample-all"; `ddim --help` lists the commands$/m],
      // Precision tiers: a typo is named; a tier SwiftShader lacks names the missing feature.
      [['forward', '--weights', w, '--input', bad, '--out', join(dir, 'o.safetensors'), '--precision', 'bf16'], /ddim forward: --precision: unknown precision "bf16" \(choose auto, fp32, f16, matrix, matrix-emulated\)/],
      [['--gpu-features', 'fast', 'forward'], /^ddim: --gpu-features: unknown GPU feature set "fast" \(choose default or unsafe\)$/m],
      [['--gpu-features', 'unsafe', 'forward', '--weights', w, '--input', REF + 'unet-tiny.forward.safetensors', '--out', join(dir, 'o.safetensors'), '--precision', 'f16'],
        /^ddim forward: precision f16 needs the adapter feature shader-f16, which SwiftShader.* does not offer/m],
      // One denoiser path: a layered file's chain is its own, and says so with the file's name.
      [['sample', '--weights', layered, '--out', join(dir, 's.png'), '--steps', '2'], /^ddim sample: .*layered4\.safetensors: a layered model's chain is fixed at 3 steps: t = 750, 500, 250, one sub-model each; --steps does not apply$/m],
      [['eval', '--weights', layered, '--data', 'emoji16', '--eta', '1'], /^ddim eval: .*layered4\.safetensors: a layered model's chain is fixed at 3 steps.*--eta does not apply$/m],
      [['invert', '--weights', layered, '--image', join(dir, 'nope.png'), '--out', join(dir, 'x.safetensors')], /layered4\.safetensors: a layered model's chain is fixed .*: it cannot be inverted/],
      [['invert', '--weights', w, '--image', join(dir, 'nope.png'), '--out', join(dir, 'x.safetensors')], /^ddim invert: .*nope\.png: cannot read \(ENOENT\)$/m],
      // Validation finishes at load, naming the file and the field; nothing non-finite leaves the engine.
      [['sample', '--weights', groups, '--out', join(dir, 's.png')], /^ddim sample: .*groups\.safetensors: model config field "norm_groups" is 32, which does not divide the 16 channels of conv_in|down\.0\.block\.0\.norm1/m],
      [['sample', '--weights', jsd, '--out', join(dir, 's.png'), '--skip', 'trailing', '--steps', '1'], /^ddim sample: .*jsd\.safetensors: the jsd schedule has alpha-bar 0 at t = 999, .*The same 1 step with skip "uniform" stays? finite\.$/m],
      [['invert', '--weights', jsd, '--image', join(dir, 'nope.png'), '--out', join(dir, 'x.safetensors'), '--steps', '1000'], /^ddim invert: inversion: .*jsd\.safetensors: the jsd schedule has alpha-bar 0 at t = 999/m],
    ];
    for (const [args, message] of cases) {
      const r = await ddimProcess(...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(message);
      // One line, one prefix (Vulkan loader noise aside).
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.includes('XDG_RUNTIME_DIR'));
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/ddim [\w-]+: ddim /);
    }
    // Help for one command, asked either way; the model given as --out above is untouched.
    for (const args of [['sample', '--help'], ['help', 'sample']]) {
      const help = await ddimProcess(...args);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^usage: ddim sample \[options\]\n {2}sample {6}--weights W\.safetensors\|--ideal DATA/);
      expect(help.stdout).not.toMatch(/^ {2}train /m);
    }
    expect(readFileSync(copy)).toEqual(readFileSync(w));
    // Nothing half-written beside the outputs.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
