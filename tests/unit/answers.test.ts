// The Research tab's verdicts (ui/answers.ts) follow the numbers: the same words with other numbers
// come out otherwise, including "not supported".
import { describe, expect, it } from 'vitest';
import { TIME, verdicts, type Answers, type DenoisingRow, type GenerationRow, type Measured } from '../../src/ui/answers';
import { collapsedSet } from '../../src/eval/sets';

const m = (mean: number, sd = 0): Measured => ({ mean, sd, values: [mean] });
const CHAIN = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900];

function gen(model: string, finalFd: number, spread: number, firstFd = 40, finalRough = 1): GenerationRow {
  return { model, parameters: 1, first_fd: m(firstFd), final_fd: m(finalFd), first_rough: m(3.8), final_rough: m(finalRough), first_spread: m(0.9), final_spread: m(spread), nn_rms: m(0.28) };
}

function den(model: string, oneshot: (t: number) => number, chain: (t: number) => number, blurFrom = 600): DenoisingRow[] {
  return CHAIN.slice(1).map((t) => ({ t, model, oneshot_mse: m(oneshot(t)), chain_mse: m(chain(t)), oneshot_fd: m(5), chain_fd: m(5), oneshot_rough: m(t > blurFrom ? 0.4 : 1), chain_rough: m(1) }));
}

interface Over { blurFrom?: number; e2e?: number; e2eFd?: number; ch8?: number; correction?: number; correctionFd?: number; correctionRough?: number; teacherFd?: number; oneshotLate?: number; smallChain?: number; layerCh8?: number; meanImage?: number }

function answers(over: Over = {}): Answers {
  const rows = [gen(TIME, 3.9, 0.44), gen('layer', 3.9, 0.43), gen('end2end', over.e2eFd ?? 35, over.e2e ?? 0.04, 77), gen('e2e_ch8', 6, over.ch8 ?? 0.03),
    gen('e2e_correction', over.correctionFd ?? 6, over.correction ?? 0.42, 40, over.correctionRough ?? 1), gen('e2e_teacher', over.teacherFd ?? 5, 0.41), gen('e2e_gtA', 38, 0.003), { ...gen('ideal', 1.5, 0.45, 34), first_spread: m(0.03), first_rough: m(0.45), nn_rms: m(0.01) }];
  const h1 = [
    ...den(TIME, (t) => (t <= (over.oneshotLate ?? 500) ? 0.01 * (t / 100) : 0.5), (t) => 0.01 * (t / 100), over.blurFrom),
    ...den('layer', (t) => (t <= 600 ? 0.01 * (t / 100) : 0.5), (t) => 0.01 * (t / 100)),
    ...den('ideal', () => 0.07, () => 0.07), ...den('e2e_ch8', () => 0.1, () => over.smallChain ?? 0.05), ...den('layer_ch8', () => 0.1, () => over.layerCh8 ?? 0.04),
  ];
  return {
    measured: '2026-12-04', chain: CHAIN, held_out: 378, training_images: 3408,
    models: { end2end: { parameters: 2.3e6, trainer: { evals: 999_936 } } },
    h2: { rows, floors: { n: 384, real: m(1.4), noise: m(95.8), real_spread: 0.47 }, grid_rows: [] },
    h1: { rows: h1, n: 378, seeds: [0, 1], mean_image_mse: over.meanImage ?? 0.24 }, curves: {},
  };
}

describe('the measured answers', () => {
  it('call a set collapsed when its spread is under a fifth of the real images\', whatever its FD', () => {
    // The Research tab's walk at n = 4: the end-to-end model's blobs (spread 0.032) against 0.338.
    expect(collapsedSet(0.032, 0.338)).toBe(true);
    expect(collapsedSet(0.315, 0.338)).toBe(false);
    expect(collapsedSet(0.0675, 0.338)).toBe(true);
    expect(collapsedSet(0.0677, 0.338)).toBe(false);
  });

  it('give each hypothesis a verdict from its numbers', () => {
    const v = new Map(verdicts(answers()).map((x) => [x.id, x]));
    expect(v.get('H1')!.verdict).toBe('supported');
    expect(v.get('H1')!.evidence.join(' ')).toMatch(/as good as its chain up to t = 500/);
    expect(v.get('H2')!.verdict).toBe('supported');
    expect(v.get('H2')!.evidence.join(' ')).toMatch(/ideal denoiser .* first x0 is the average, one picture, and a blur .* chain ends on training images/);
    expect(v.get('H2')!.evidence[0]).toMatch(/roughness 3\.80: noisy\)/);
    // The answer in words, with the amplification at the chain's first t (the linear schedule: 60.8 at t = 900).
    expect(v.get('H2')!.evidence.join(' ')).toMatch(/So the first x0 cannot be the result: at t = 900 it is E\[x0 \| x_t\].*multiplies any error in a trained model's eps by 61,/);
    expect(v.get('H3')!.verdict).toBe('partly supported');
    expect(v.get('H3')!.evidence[0]).toBe('(1) parameters: not supported; (2) x0 instead of noise supervision: supported; (3) DDIM in between: supported.');
    expect(v.get('H3')!.evidence.join(' ')).toMatch(/learns E\[x0 \| x_T\]/);
    expect(v.get('H3')!.evidence[1]).toMatch(/^At 1M image-gradient evaluations each/); // 999,936 rounds to 1M
    expect(v.get('H3')!.evidence.join(' ')).toMatch(/teacher forcing.*: varied samples \(FD 5\.00/);
    expect(v.get('H4')!.verdict).toBe('supported'); // its chain's MSE 0.05 against the layer loss's 0.04 at the same size
  });

  it('say otherwise when the numbers do', () => {
    // An end-to-end chain that makes varied, good samples: H3's premise fails.
    expect(verdicts(answers({ e2e: 0.4, e2eFd: 5 })).find((x) => x.id === 'H3')!.verdict).toBe('not supported');
    // Fewer parameters rescuing it, with the other two: all three parts hold.
    const all = verdicts(answers({ ch8: 0.4 })).find((x) => x.id === 'H3')!;
    expect(all.evidence[0]).toMatch(/^\(1\) parameters: supported; \(2\) x0 instead of noise supervision: supported/);
    expect(all.verdict).toBe('supported');
    // Noise supervision collapsing too: (2) not supported.
    expect(verdicts(answers({ correction: 0.01 })).find((x) => x.id === 'H3')!.evidence[0]).toMatch(/\(2\) x0 instead of noise supervision: not supported/);
    // Noise supervision staying noise (varied, but at the noise floor): (2) not supported, and said so.
    const noisy = verdicts(answers({ correction: 0.99, correctionFd: 102, correctionRough: 6 })).find((x) => x.id === 'H3')!;
    expect(noisy.evidence[0]).toMatch(/\(2\) x0 instead of noise supervision: not supported/);
    expect(noisy.evidence.join(' ')).toMatch(/noise supervision.*: noise \(FD 102\.00.*samples stay noise/);
    // As far from the data but smooth (flat, saturated patches): not called noise.
    const flat = verdicts(answers({ correction: 0.87, correctionFd: 120, correctionRough: 1.1 })).find((x) => x.id === 'H3')!;
    expect(flat.evidence[0]).toMatch(/\(2\) x0 instead of noise supervision: not supported/);
    expect(flat.evidence.join(' ')).toMatch(/noise supervision.*: no emoji \(as far from them as noise, though as sharp as real images\) \(FD 120\.00/);
    expect(flat.evidence.join(' ')).not.toMatch(/samples stay noise/);
    // An arm is judged against the layer loss at its own budget (the layer curve), not at the layer's final one.
    const budgeted = answers({ teacherFd: 12 });
    budgeted.models.e2e_teacher = { parameters: 2.3e6, trainer: { evals: 500_000 } };
    expect(verdicts(budgeted).find((x) => x.id === 'H3')!.evidence[0]).toMatch(/\(3\) DDIM in between: not supported/); // 12 > 2 x 3.9
    budgeted.curves.layer = [{ step: 1, evals: 100_000, fd_final: 140, fd_first: 110 }, { step: 2, evals: 500_256, fd_final: 7.5, fd_first: 46 }, { step: 3, evals: 999_936, fd_final: 3.9, fd_first: 33 }];
    const h3 = verdicts(budgeted).find((x) => x.id === 'H3')!;
    expect(h3.evidence[0]).toMatch(/\(3\) DDIM in between: supported/); // 12 <= 2 x 7.5
    expect(h3.evidence.join(' ')).toMatch(/teacher forcing.*FD 12\.00.*the layer loss had FD 7\.50 at that budget/);
    // Nothing rescuing it: H3 not supported.
    expect(verdicts(answers({ correction: 0.99, correctionFd: 102, teacherFd: 30 })).find((x) => x.id === 'H3')!.verdict).toBe('not supported');
    // One model's one-shot x0 worse than its chain from t = 200 on: H1 only partly holds.
    expect(verdicts(answers({ oneshotLate: 100 })).find((x) => x.id === 'H1')!.verdict).toBe('partly supported');
    // One whose one-shot x0 has the chain's MSE but is a blur from t = 300 on: not as good as its chain there.
    const blurred = verdicts(answers({ blurFrom: 200 })).find((x) => x.id === 'H1')!;
    expect(blurred.verdict).toBe('partly supported');
    expect(blurred.evidence[0]).toMatch(/as good as its chain up to t = 200/);
    // A small end-to-end chain that denoises far worse than the layer loss: H4 not supported.
    expect(verdicts(answers({ smallChain: 0.1 })).find((x) => x.id === 'H4')!.verdict).toBe('not supported');
    // One that stays near the mean image, beside a weak layer loss: no denoiser either, and the baseline is said.
    const meanLike = verdicts(answers({ smallChain: 0.2, layerCh8: 0.16 })).find((x) => x.id === 'H4')!;
    expect(meanLike.verdict).toBe('not supported');
    expect(meanLike.evidence.join(' ')).toMatch(/mean training image, which ignores x_t, scores MSE 0\.2400/);
    // Without the baseline measured, H4 is not judged.
    const old = answers();
    delete old.h1.mean_image_mse;
    expect(verdicts(old).find((x) => x.id === 'H4')!.verdict).toBe('not measured');
  });
});
