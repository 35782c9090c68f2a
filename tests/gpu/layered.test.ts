// The research variant (one time-free UNet per DDIM step) vs layered4.golden: the end-to-end (ground
// truth D) losses and gradients through the chain. The chain sample (sample/xs) and the per-step layer
// losses and gradients (layer/losses, layer_grad/) are checked once, through `ddim sample` and
// `ddim train-step --mode layer` in tests/gpu/cli.test.ts (the commands run LayeredChain and
// LayerLosses and write their outputs).
import { describe, expect, it } from 'vitest';
import { withErrorScopes } from '../../src/gpu/kernel';
import { readTensors, upload } from '../../src/gpu/tensor';
import { getTensor } from '../../src/io/safetensors';
import type { HostTensor, SafetensorsFile } from '../../src/host/tensor';
import { LayeredChain, type ChainTraining } from '../../src/research/chain';
import { chainSteps, expandPerStep, parseLayered } from '../../src/research/layered';
import { initLayered } from '../../src/research/trainer';
import { groundTruth } from '../../src/research/truth';
import { gaussian } from '../../src/host/rng';
import { loadReference } from '../unit/ref-helpers';
import { expectMaxAbs, useGpu } from './harness';
import { expectGradients } from './train-golden';

const gpu = useGpu();
const weights = loadReference('layered4.safetensors');
const golden = loadReference('layered4.golden.safetensors');
const model = parseLayered(weights, 'layered4');
const per = 2 * 3 * 16 * 16;
const relLoss = (got: number, ref: number): number => Math.abs(got - ref) / Math.abs(ref);

// For what no golden covers: layered4's structure at 8 px and ch 8 with fresh weights (cheap on SwiftShader),
// one image, ground truth D.
const smallMetadata = { ...weights.metadata, model: JSON.stringify({ ...JSON.parse(weights.metadata.model!), ch: 8, resolution: 8, attn_resolutions: [4] }), ch_num: '[8, 8, 8, 8]' };
const smallModel = parseLayered({ tensors: new Map(), metadata: smallMetadata, dtypes: new Map() }, 'small layered');
const smallWeights = { tensors: initLayered(smallModel, 5), metadata: smallMetadata, dtypes: new Map<string, string>() };
const smallTruths = groundTruth('D', smallModel, gaussian(1, 0, 0, 3 * 8 * 8).map((v) => Math.tanh(v)), gaussian(2, 0, 0, 3 * 8 * 8), 0);

describe('layered model', () => {
  it('parses the reference file: seq, per-step configs, the chain coefficients', () => {
    expect(model.seq).toEqual([0, 250, 500, 750]);
    expect([...model.configs.values()].map((c) => [c.ch, c.use_time_embed, c.norm_groups])).toEqual(Array(4).fill([16, false, 'auto']));
    const steps = chainSteps(model);
    expect(steps.map((s) => [s.t, s.next])).toEqual([[750, 500], [500, 250], [250, 0]]);
    const [ai, aj] = [model.abar[750]!, model.abar[500]!];
    expect(steps[0]!.a).toBeCloseTo(Math.sqrt(aj / ai), 12);
    expect(steps[0]!.b).toBeCloseTo(Math.sqrt(1 - aj) - Math.sqrt(1 - ai) * Math.sqrt(aj / ai), 12);
    expect(expandPerStep([{ value: 32, num: 2 }, 16], 3, 'ch_num')).toEqual([32, 32, 16]);
    expect(() => expandPerStep([16, 16], 4, 'ch_num')).toThrow(/ch_num gives 2 entries, expected one per step of seq \(4\)/);
    expect(() => parseLayered(loadReference('unet-tiny.safetensors'), 'tiny')).toThrow(/tiny: not a layered model/);
  });

  it('end to end (ground truth D): losses and the gradients of their sum through the chain', async () => {
    const d = gpu.device;
    const chain = new LayeredChain(d, model, 2);
    chain.load(weights, 'layered4');
    const trueXs = getTensor(golden, 'e2e/true_xs', [4, 2, 3, 16, 16]).data;
    chain.trueXs.forEach((t, k) => upload(d, t, trueXs.subarray(k * per, (k + 1) * per)));
    await withErrorScopes(d, 'layered end2end', () => {
      const e = d.createCommandEncoder();
      chain.encodeEndToEnd(e);
      d.queue.submit([e.finish()]);
    });
    const losses = (await readTensors(d, chain.losses)).map((l) => l[0]!);
    const ref = getTensor(golden, 'e2e/losses', [3]).data;
    losses.forEach((l, k) => expect(relLoss(l, ref[k]!), `e2e loss ${k}: ${l} vs ${ref[k]}`).toBeLessThanOrEqual(1e-5));
    const grads = await chain.readGrads();
    expect([...grads.keys()].sort()).toEqual([...golden.tensors.keys()].filter((n) => n.startsWith('grad/')).map((n) => n.slice(5)).sort());
    expectGradients(grads, golden, 'grad/');
  });

  it('end to end with teacher forcing (use_true_x_as_x) on ground truth D is the layer loss scaled by b^2 per step', async () => {
    // With D, true_j = a true_i + b noise exactly, so step i's loss is b^2 |eps_i(true_i) - noise|^2.
    const d = gpu.device;
    const chain = new LayeredChain(d, model, 2, { teacherForcing: true });
    chain.load(weights, 'layered4');
    const trueXs = getTensor(golden, 'e2e/true_xs', [4, 2, 3, 16, 16]).data;
    chain.trueXs.forEach((t, k) => upload(d, t, trueXs.subarray(k * per, (k + 1) * per)));
    await withErrorScopes(d, 'teacher forcing', () => {
      const e = d.createCommandEncoder();
      chain.encodeEndToEnd(e);
      d.queue.submit([e.finish()]);
    });
    const losses = (await readTensors(d, chain.losses)).map((l) => l[0]!);
    const layer = getTensor(golden, 'layer/losses').data; // ascending t: 250, 500, 750
    const b2 = new Map(chain.steps.map((s) => [s.t, s.b * s.b]));
    chain.steps.forEach((s, k) => expect(relLoss(losses[k]!, b2.get(s.t)! * layer[model.seq.indexOf(s.t) - 1]!), `t=${s.t}`).toBeLessThanOrEqual(1e-4));
    const scaled = new Map([...golden.tensors].filter(([n]) => n.startsWith('layer_grad/')).map(([n, v]) => {
      const t = Number(n.split('.')[1]);
      return [n, { shape: v.shape, data: v.data.map((x) => x * b2.get(t)!) }];
    }));
    expectGradients(await chain.readGrads(), { tensors: scaled, metadata: {}, dtypes: new Map() }, 'layer_grad/');
  });

  it('end to end with loss weights: the gradient is the weighted sum of each step\'s own gradient', async () => {
    const d = gpu.device; // linearity needs no golden: the small model
    const gradsWith = async (lossWeights: number[]) => {
      const chain = new LayeredChain(d, smallModel, 1, { lossWeights });
      chain.load(smallWeights, 'small layered');
      chain.trueXs.forEach((t, k) => upload(d, t, smallTruths[k]!));
      const e = d.createCommandEncoder();
      chain.encodeEndToEnd(e);
      d.queue.submit([e.finish()]);
      return chain.readGrads();
    };
    const w = Array.from(getTensor(golden, 'e2e/loss_weights', [3]).data); // 1/abar_t for t = 750, 500, 250
    const [g0, g1, g2, all] = [await gradsWith([1, 0, 0]), await gradsWith([0, 1, 0]), await gradsWith([0, 0, 1]), await gradsWith(w)];
    const expected = new Map([...g0].map(([n, v]) => [`grad/${n}`, {
      shape: v.shape, data: v.data.map((x, i) => w[0]! * x + w[1]! * g1.get(n)!.data[i]! + w[2]! * g2.get(n)!.data[i]!),
    }]));
    expectGradients(all, { tensors: expected, metadata: {}, dtypes: new Map() }, 'grad/');
    // The first step's sub-model feeds every later loss; the last step's only its own.
    expect(Math.max(...g2.get('models.750.conv_out.bias')!.data.map(Math.abs))).toBeGreaterThan(0);
    expect(Math.max(...g0.get('models.250.conv_out.bias')!.data.map(Math.abs))).toBe(0);
  });

  it('the correction term (use_adv_loss): residuals, the detached gradient, and the full gradient by finite differences', { timeout: 300_000 }, async () => {
    const d = gpu.device, truths = smallTruths;
    const run = async (options: ChainTraining, file: SafetensorsFile = smallWeights, targets?: (k: number) => Float32Array) => {
      const chain = new LayeredChain(d, smallModel, 1, options);
      chain.load(file, 'small layered');
      chain.trueXs.forEach((t, k) => upload(d, t, targets && k > 0 ? targets(k) : truths[k]!));
      const e = d.createCommandEncoder();
      chain.encodeEndToEnd(e);
      d.queue.submit([e.finish()]);
      return { chain, losses: (await readTensors(d, chain.losses)).map((l) => l[0]!), xs: await readTensors(d, chain.xs), grads: await chain.readGrads() };
    };
    const full = await run({ correction: { detach: false } });
    const steps = full.chain.steps;
    // r_k = x_{k+1} - true_{k+1} - a_k (x_k - true_k), with x_0 = true_0.
    const target = (k: number): Float32Array => truths[k + 1]!.map((v, i) => v + (k === 0 ? 0 : steps[k]!.a * (full.xs[k]![i]! - truths[k]![i]!)));
    full.losses.forEach((l, k) => {
      const ref = full.xs[k + 1]!.reduce((sum, x, i) => sum + (x - target(k)[i]!) ** 2, 0);
      expect(relLoss(l, ref), `corrected loss ${k}: ${l} vs ${ref}`).toBeLessThanOrEqual(1e-4);
    });
    // Detached: the plain end-to-end gradient towards the corrected targets, held constant.
    const detached = await run({ correction: { detach: true } });
    expect(detached.losses).toEqual(full.losses);
    const towards = await run({}, smallWeights, (k) => target(k - 1));
    expectGradients(detached.grads, { tensors: new Map([...towards.grads].map(([name, v]) => [`g/${name}`, v])), metadata: {}, dtypes: new Map() }, 'g/');
    // Full: the derivative of the summed loss along the gradient is |g| (central differences).
    const names = [...full.grads.keys()];
    const dot = (a: Map<string, HostTensor>, b: Map<string, HostTensor>): number => names.reduce((s2, name) => s2 + a.get(name)!.data.reduce((acc, v, i) => acc + v * b.get(name)!.data[i]!, 0), 0);
    const norm = Math.sqrt(dot(full.grads, full.grads));
    const total = full.losses.reduce((a, b) => a + b, 0);
    const eps = (1e-3 * total) / norm; // moves the loss by ~0.1%
    const along = async (sign: number): Promise<number> => {
      const tensors = new Map(smallWeights.tensors);
      for (const name of names) {
        const w = smallWeights.tensors.get(name)!, g = full.grads.get(name)!;
        tensors.set(name, { shape: w.shape, data: w.data.map((v, i) => v + (sign * eps * g.data[i]!) / norm) });
      }
      return (await run({ correction: { detach: false } }, { ...smallWeights, tensors })).losses.reduce((a, b) => a + b, 0);
    };
    const slope = ((await along(1)) - (await along(-1))) / (2 * eps);
    expect(Math.abs(slope - norm) / norm, `slope ${slope} vs |g| ${norm}`).toBeLessThan(5e-3);
    // The detached gradient points elsewhere: the check above can tell them apart.
    expect(Math.abs(dot(detached.grads, full.grads) / norm - norm) / norm).toBeGreaterThan(5e-2);
  });
});

describe('ground truths', () => {
  const x0 = getTensor(golden, 'x0').data, noise = getTensor(golden, 'noise').data;

  it('D is the reference e2e/true_xs', () => {
    const ref = getTensor(golden, 'e2e/true_xs').data;
    groundTruth('D', model, x0, noise, 0).forEach((x, k) => expectMaxAbs(x, ref.subarray(k * per, (k + 1) * per), 1e-5, `true_xs[${k}]`));
  });

  it('A and B keep each marginal: x_t has mean sqrt(abar_t) x0 and variance 1 - abar_t around it', () => {
    const big = new Float32Array(200_000).fill(0.5), n = gaussian(3, 0, 0, big.length);
    for (const kind of ['A', 'B'] as const) {
      const xs = groundTruth(kind, model, big, n, 7);
      [...model.seq].reverse().forEach((t, k) => {
        const a = model.abar[t]!;
        const dev = xs[k]!.map((v) => v - Math.sqrt(a) * 0.5);
        const mean = dev.reduce((s, v) => s + v, 0) / dev.length, variance = dev.reduce((s, v) => s + v * v, 0) / dev.length;
        expect(Math.abs(mean), `${kind} t=${t} mean`).toBeLessThan(0.01);
        expect(Math.abs(variance - (1 - a)), `${kind} t=${t} variance`).toBeLessThan(0.01);
      });
      // B uses the given noise at the largest t (the chain's input), fresh noise elsewhere; A starts from x0 itself at t = 0.
      const d = groundTruth('D', model, big, n, 7);
      if (kind === 'B') expect(xs[0]).toEqual(d[0]);
      else expect(xs[xs.length - 1]).toEqual(big);
      expect(xs[1]).not.toEqual(d[1]);
    }
  });
});
