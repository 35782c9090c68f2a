// The application layer's limits, the same for the page and the command line: one function per
// limit (app/sampling.ts, app/training.ts), each naming the setting and its bounds.
import { describe, expect, it } from 'vitest';
import { MAX_SAMPLE_BATCH, ddimSpec, interpolationStart, planChain, planSampling, type ChainSettings } from '../../src/app/sampling';
import { checkRunSteps, lossScaleSkipsText, milestoneMismatch, resumeText, runExpectation, runWarnings, storedState } from '../../src/app/training';
import { RECIPE_MILESTONES } from '../../src/train/recipe';
import { readFileSync } from 'node:fs';
import { checkBudget, checkExperiment, experimentEvaluations } from '../../src/app/research';
import { DEFAULT_BUDGET } from '../../src/research/budget';
import { DEFAULT_DIFFUSION } from '../../src/diffusion/schedule';
import { stepCoefficients } from '../../src/diffusion/samplers';
import { gaussian } from '../../src/host/rng';
import { BUNDLED_ARCHITECTURE, PRESETS, preset } from '../../src/nn/presets';
import { modelChain, readModelFile, readUNetFile } from '../../src/app/model-files';
import { planInversion } from '../../src/app/inversion';
import { FILE_FORMATS } from '../../src/host/metadata';
import { loadReference } from './ref-helpers';

const ok: ChainSettings = { sampler: 'generalized', steps: 20, eta: 0, skip: 'uniform', seed: 0, batch: 4, clipX0: false };

describe('chain settings', () => {
  const bad: [Partial<ChainSettings>, RegExp][] = [
    [{ steps: 0 }, /^steps must be an integer in \[1, 1000\], got 0$/],
    [{ steps: 1001 }, /^steps must be an integer in \[1, 1000\], got 1001$/],
    [{ steps: 2.5 }, /got 2\.5/],
    [{ eta: -0.1 }, /^eta must be in \[0, 1\] \(0: DDIM, 1: DDPM-like\), got -0\.1$/],
    [{ eta: Number.NaN }, /^eta must be in \[0, 1\]/],
    [{ batch: MAX_SAMPLE_BATCH + 1 }, new RegExp(`^batch size must be an integer in \\[1, ${MAX_SAMPLE_BATCH}\\], got ${MAX_SAMPLE_BATCH + 1}$`)],
    [{ batch: 0 }, /^batch size must be an integer in \[1, 64\], got 0$/],
    [{ seed: -1 }, /^seed must be an integer in \[0, 2\^32\), got -1$/],
    [{ seed: 2 ** 32 }, /^seed must be an integer in \[0, 2\^32\)/],
    [{ sampler: 'ddim' as ChainSettings['sampler'] }, /^sampler must be one of generalized, ddpm_noisy, got "ddim"$/],
    [{ skip: 'every' as ChainSettings['skip'] }, /^skip must be one of uniform, quad, leading, trailing, linspace, got "every"$/],
  ];
  for (const [change, message] of bad) {
    it(`refuses ${JSON.stringify(change)}`, () => expect(() => planSampling(DEFAULT_DIFFUSION, { ...ok, ...change })).toThrow(message));
  }

  it('plans the chain from the schedule, or replays a given sequence', () => {
    const plan = planChain(DEFAULT_DIFFUSION, { ...ok, steps: 4, eta: 0.5 });
    expect(plan.seq).toEqual([0, 250, 500, 750]);
    expect(plan.coefficients).toEqual(stepCoefficients(plan.seq, plan.abar, { sampler: 'generalized', eta: 0.5, clipX0: false, useClippedModelOutput: false }));
    expect(planChain(DEFAULT_DIFFUSION, { ...ok, steps: 3 }, { seq: [0, 10, 999] }).coefficients.map((c) => c.t)).toEqual([999, 10, 0]);
    expect(() => planChain(DEFAULT_DIFFUSION, { ...ok, eta: 2 })).toThrow(/eta must be in \[0, 1\]/);
  });

  it('an interpolation starts at the x_T of each seed, with 2..64 frames', () => {
    const config = preset('tiny');
    const n = config.in_channels * config.resolution ** 2;
    const xT = interpolationStart(config, 3, 9, 5);
    expect(xT.length).toBe(5 * n);
    expect(xT.subarray(0, n)).toEqual(gaussian(3, 0, 0, n));
    const last = gaussian(9, 0, 0, n);
    xT.subarray(4 * n).forEach((v, i) => expect(v).toBeCloseTo(last[i]!, 5));
    expect(() => interpolationStart(config, 0, 1, 1)).toThrow(/^frames must be an integer in \[2, 64\], got 1$/);
    expect(() => interpolationStart(config, 0, 1, 65)).toThrow(/got 65/);
  });
});

describe('training runs', () => {
  it('a run is 1 to 10^8 whole steps', () => {
    expect(checkRunSteps(5)).toBe(5);
    expect(() => checkRunSteps(0)).toThrow(/^steps must be an integer in \[1, 10\^8\], got 0$/);
    expect(() => checkRunSteps(1.5, 'checkpoint interval')).toThrow(/^checkpoint interval must be an integer/);
  });

  it('says how many steps the loss scale skipped, and nothing when none', () => {
    expect(lossScaleSkipsText(0)).toBe('');
    expect(lossScaleSkipsText(1)).toBe('1 step skipped by the loss scale (f16 overflow)');
    expect(lossScaleSkipsText(1234)).toBe('1,234 steps skipped by the loss scale (f16 overflow)');
  });

  it('says what Resume continues from, what a Stop did not keep, and that a run without a checkpoint has nothing to resume', () => {
    expect(resumeText({ state: 'running', step: 4, savedStep: 0 })).toBe('');
    expect(resumeText({ state: 'done', step: 8, savedStep: 8 })).toBe('');
    expect(resumeText({ state: 'paused', step: 5, savedStep: 5 })).toBe(' · Resume continues it from step 5');
    expect(resumeText({ state: 'stopped', step: 27, savedStep: 20 })).toBe(' · Resume continues it from step 20 (steps 21-27 were not saved: Stop keeps the last checkpoint, Pause saves one)');
    expect(resumeText({ state: 'error', step: 27, savedStep: 20 })).toBe(' · Resume continues it from step 20 (steps 21-27 were not saved)');
    expect(resumeText({ state: 'stopped', step: 4, savedStep: 0 })).toMatch(/^ · it ended before its first checkpoint: nothing to resume .*Train starts a new run$/);
    expect(resumeText({ state: 'error', step: 4, savedStep: 0 })).toMatch(/^ · it ended before its first checkpoint: nothing to resume/);
    expect(resumeText({ state: 'stopped', step: 21, savedStep: 20 })).toBe(' · Resume continues it from step 20 (step 21 was not saved: Stop keeps the last checkpoint, Pause saves one)');
  });

  it('shows a stored run as its last session left it, after a reload', () => {
    const run = { step: 20, targetSteps: 60, checkpointKey: 'ckpt:r:20:1' };
    expect(storedState({ ...run, ended: { how: 'stopped', step: 27 } })).toEqual({ state: 'stopped', step: 27, savedStep: 20 });
    expect(storedState({ ...run, ended: { how: 'error', step: 23 } })).toEqual({ state: 'error', step: 23, savedStep: 20 });
    expect(storedState({ ...run, ended: { how: 'paused', step: 20 } })).toEqual({ state: 'paused', step: 20, savedStep: 20 });
    expect(storedState({ ...run, step: 60 })).toEqual({ state: 'done', step: 60, savedStep: 60 });
    // The page went away while it trained: its last checkpoint says so.
    const gone = storedState({ ...run, ended: { how: 'interrupted', step: 20 } });
    expect(gone).toEqual({ state: 'interrupted', step: 20, savedStep: 20 });
    expect(resumeText(gone)).toBe(' · the page was closed or reloaded while it trained: Resume continues it from step 20, its last checkpoint');
    // Entries stored before `ended` was kept.
    expect(storedState(run)).toEqual({ state: 'paused', step: 20, savedStep: 20 });
    expect(storedState({ step: 0, targetSteps: 60 })).toEqual({ state: 'stopped', step: 0, savedStep: 0 });
    const { state, step, savedStep } = storedState({ ...run, ended: { how: 'stopped', step: 27 } });
    expect(`${state} · step ${step}/60${resumeText({ state, step, savedStep })}`).toBe('stopped · step 27/60 · Resume continues it from step 20 (steps 21-27 were not saved: Stop keeps the last checkpoint, Pause saves one)');
  });
});

describe('research experiments', () => {
  it('count their image evaluations: experiment 1 a chain from every step on n images, experiment 2 one chain on n samples, per seed', () => {
    // Two models of 9 steps (num_block 10) and one of 2: 45 + 45 + 3 chain steps from every start.
    expect(experimentEvaluations('oneshot', [9, 9, 2], 4, 1)).toBe((45 + 45 + 3) * 4);
    expect(experimentEvaluations('firststep', [9, 9, 2], 4, 3)).toBe(3 * (9 + 9 + 2) * 4);
    expect(experimentEvaluations('firststep', [], 4, 1)).toBe(0);
  });

  it('one-shot takes 2..64 held-out images, first-step 2..1024 samples, chains of 2..100 steps, 1..5 seeds', () => {
    expect(() => checkExperiment('oneshot', 64, 10, 0)).not.toThrow();
    expect(() => checkExperiment('oneshot', 65, 10, 0)).toThrow(/^the number of held-out images \(a covariance needs two\) must be an integer in \[2, 64\], got 65$/);
    expect(() => checkExperiment('oneshot', 16, 10, 0, 6)).toThrow(/^the number of seeds must be an integer in \[1, 5\], got 6$/);
    expect(() => checkExperiment('firststep', 1, 10, 0)).toThrow(/^the number of samples \(a covariance needs two\) must be an integer in \[2, 1024\], got 1$/);
    expect(() => checkExperiment('firststep', 384, 1, 0)).toThrow(/^steps of the chain \(num_block\) must be an integer in \[2, 100\], got 1$/);
    expect(() => checkExperiment('firststep', 384, 10, -3)).toThrow(/^seed must be/);
  });

  it('a budget comparison is refused for a bad budget, batch or optimizer before any arm runs', () => {
    expect(() => checkBudget(DEFAULT_BUDGET)).not.toThrow();
    expect(() => checkBudget({ ...DEFAULT_BUDGET, points: 0 })).toThrow(/^points must be an integer in \[1, 100\], got 0$/);
    expect(() => checkBudget({ ...DEFAULT_BUDGET, samples: 1 })).toThrow(/^samples per point must be/);
    expect(() => checkBudget({ ...DEFAULT_BUDGET, layeredBatch: 300 })).toThrow(/^the layered arms' batch must be an integer in \[1, 256\], got 300$/);
    expect(() => checkBudget({ ...DEFAULT_BUDGET, optimizer: { ...DEFAULT_BUDGET.optimizer, emaRate: 1 } })).toThrow(/^EMA rate must be a number in \[0, 1\), got 1$/);
  });
});

describe('model files, by __metadata__.format', () => {
  const tiny = loadReference('unet-tiny.safetensors');
  const layered = loadReference('layered4.safetensors');

  it('opens a UNet and a layered model, each as its kind', () => {
    expect(readModelFile(tiny, 'tiny.st').kind).toBe('unet');
    const l = readModelFile(layered, 'l.st');
    expect(l.kind === 'layered' && l.model.seq.length).toBeGreaterThan(1);
  });

  it('gives one interface for both families: image shape, schedule, and a chain fixed by the file or chosen', () => {
    const u = readModelFile(tiny, 'tiny.st'), l = readModelFile(layered, 'l.st');
    expect([u.channels, u.resolution, u.fixedChain]).toEqual([3, 16, undefined]);
    expect([l.channels, l.resolution, l.fixedChain?.seq]).toEqual([3, 16, [0, 250, 500, 750]]);
    // The layered chain stops at t = 0, where no sub-model runs: DDIM's steps over seq but the last.
    expect(l.fixedChain!.coefficients.map((c) => [c.t, c.tNext])).toEqual([[750, 500], [500, 250], [250, 0]]);
    expect(modelChain(u, ddimSpec(4)).seq).toEqual([0, 250, 500, 750]);
    expect(modelChain(l, ddimSpec(50))).toBe(l.fixedChain);
    expect(() => modelChain(l, ddimSpec(2), ['--steps', '--eta'])).toThrow(/^l\.st: a layered model's chain is fixed at 3 steps: t = 750, 500, 250, one sub-model each; --steps, --eta do not apply$/);
    expect(() => planInversion(l, 10)).toThrow(/^l\.st: .*it cannot be inverted$/);
  });

  it('refuses a layered file whose sub-models do not fit its config, before anything is planned', () => {
    const md = { ...layered.metadata, model: JSON.stringify({ ...JSON.parse(layered.metadata.model!), out_ch: 4 }) };
    expect(() => readModelFile({ ...layered, metadata: md }, 'l4.st')).toThrow(/^l4\.st: the config of models\.0 has out_ch 4 and in_channels 3; a denoiser predicts noise of the image's own 3 channels$/);
    const extra = new Map(layered.tensors);
    extra.set('models.250.junk', { shape: [1], data: new Float32Array(1) });
    expect(() => readModelFile({ ...layered, tensors: extra }, 'lx.st')).toThrow(/^lx\.st: unexpected tensor "models\.250\.junk"/);
  });

  it('refuses a chain that would divide by sqrt(alpha-bar) = 0 (the jsd schedule ends at beta 1), naming the file, the schedule, t and a chain that works', () => {
    const jsd = { ...DEFAULT_DIFFUSION, beta_schedule: 'jsd' as const };
    expect(() => planChain(jsd, { ...ok, steps: 1, skip: 'trailing' }, { source: 'j.st' })).toThrow(/^j\.st: the jsd schedule has alpha-bar 0 at t = 999, and a step there divides by sqrt\(alpha-bar\).*The same 1 step with skip "uniform" stays? finite\.$/);
    expect(() => planChain(jsd, { ...ok, steps: 1000 }, { source: 'j.st' })).toThrow(/The same 1000 steps with skip "quad" stay finite\./);
    expect(planChain(jsd, { ...ok, steps: 10 }).coefficients.every((c) => [c.k0, c.k1, c.a, c.d].every(Number.isFinite))).toBe(true);
  });

  it('refuses a layered model where a UNet is taken, an inversion anywhere, and a config.json beside a layered model', () => {
    expect(() => readUNetFile(layered, 'l.st', 'the model library')).toThrow(/^l\.st: a layered model \(research mode, one UNet per step\); the model library takes a time-conditioned UNet$/);
    const inversion = { ...tiny, metadata: { format: FILE_FORMATS.inversion } };
    expect(() => readModelFile(inversion, 'x.st')).toThrow(/^x\.st: the x_T of inverted images \(ddim invert\), not a model; give it to ddim sample --init$/);
    expect(() => readModelFile(layered, 'l.st', { text: '{}', name: 'c.json' })).toThrow(/^l\.st: a layered model carries its own config/);
    expect(() => readModelFile(tiny, 'tiny.st', { text: '{"ch": ', name: 'c.json' })).toThrow(/^c\.json: not valid JSON/);
  });
});

describe('what a training run costs', () => {
  it('holds the recipe search\'s milestones: where its FD curve crosses 20, 10 and 5', () => {
    // docs/recipes/fast_minsnr/curve.csv: FD of DDIM eta 1 at 20 steps against evaluations.
    const rows = readFileSync('docs/recipes/fast_minsnr/curve.csv', 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    const crossing = (fd: number): number => {
      const i = rows.findIndex((r) => r[2]! <= fd);
      const [a, b] = [rows[i - 1]!, rows[i]!];
      return a[1]! + ((a[2]! - fd) / (a[2]! - b[2]!)) * (b[1]! - a[1]!);
    };
    expect(crossing(20) / RECIPE_MILESTONES.noiseUntil).toBeCloseTo(1, 1);
    expect(crossing(10) / RECIPE_MILESTONES.recognisable).toBeCloseTo(1, 1);
    expect(crossing(5) / RECIPE_MILESTONES.good).toBeCloseTo(1, 1);
  });

  it('says what a run is worth against them, and its time at a measured rate', () => {
    const short = runExpectation(20, 32);
    expect(short.evals).toBe(640);
    expect(short.text).toMatch(/needs ~72,000 image evaluations.*This run: 20 steps x batch 32 = 640, 1% of what a recognisable model needs: expect noise\..*once the first steps are measured/);
    const timed = runExpectation(3000, 32, 1000, 16);
    expect(timed.secondsForRun).toBeCloseTo((2000 * 32) / 16, 9);
    expect(timed.secondsToRecognisable).toBeCloseTo((72_000 - 32_000) / 16, 9);
    expect(timed.text).toMatch(/At 16\.0 images\/s on this adapter the rest of the run takes 1 h 06 min; 72,000 evaluations would take 41 min 40 s\./);
    expect(runExpectation(3000, 32, 2500, 16).text).toMatch(/the rest of the run takes 16 min 40 s\.$/);
  });

  it('says when the run\'s model or data are not those the milestones were measured on', () => {
    expect(milestoneMismatch(BUNDLED_ARCHITECTURE, 'emoji16')).toBeUndefined();
    expect(milestoneMismatch(PRESETS.tiny!, 'emoji16')).toBe('model (ch 32, ch_mult [1, 2] · 1 res block · attention at [8] px · 16 px) differs');
    expect(milestoneMismatch({ ...BUNDLED_ARCHITECTURE, attn_resolutions: [] }, 'emoji16')).toBe('model (ch 32, ch_mult [1, 2, 2] · 1 res block · attention in the middle block only · 16 px) differs');
    // An attn_resolutions entry no level has changes nothing.
    expect(milestoneMismatch({ ...BUNDLED_ARCHITECTURE, attn_resolutions: [8, 2] }, 'emoji16')).toBeUndefined();
    expect(milestoneMismatch(BUNDLED_ARCHITECTURE, 'user')).toBe('data (your images) differs');
    expect(milestoneMismatch(PRESETS.small!, 'emoji32')).toBe('model (ch 64, ch_mult [1, 2, 2] · 2 res blocks · attention at [8] px · 32 px) and data (the 32 px emoji) differ');
    expect(runExpectation(20, 32).text).toMatch(/\(the recipe search: the bundled architecture \(ch 32, ch_mult \[1, 2, 2\] · 1 res block · attention at \[8\] px · 16 px\) on the emoji\)\./);
    expect(runExpectation(20, 32, 0, undefined, milestoneMismatch(PRESETS.tiny!, 'emoji16')).text)
      .toMatch(/on the emoji; this run's model \(ch 32, ch_mult \[1, 2\] · 1 res block · attention at \[8\] px · 16 px\) differs, so take these numbers as a rough guide\)\. This run: 20 steps/);
  });

  it('warns of settings that cannot work', () => {
    expect(runWarnings(20, { warmupSteps: 200, batch: 32 })).toEqual([expect.stringMatching(/^Warmup \(200 steps\) is as long as the run \(20 steps\)/)]);
    expect(runWarnings(1000, { warmupSteps: 200, batch: 32 }, 12)).toEqual([expect.stringMatching(/batch \(32\) is larger than the data set \(12 images\)/)]);
    expect(runWarnings(1000, { warmupSteps: 200, batch: 32 }, 3408)).toEqual([]);
    // No images at all is said as such (not as a batch larger than the data).
    expect(runWarnings(1000, { warmupSteps: 200, batch: 32 }, 0)).toEqual([expect.stringMatching(/^There are no images of yours yet/)]);
  });
});
