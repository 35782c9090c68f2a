// The seed question's answers (the Research tab's first section, the README's Answers), written from
// the numbers tools/answers_torch.py measured (public/answers/answers.json): each hypothesis gets a
// verdict and the numbers, budget and uncertainty behind it, and may come out "not supported". The
// words follow the numbers: the same function, with other numbers, says something else.
import { collapsedSet } from '../eval/sets';
import { DEFAULT_DIFFUSION, alphaBars, betaSchedule } from '../diffusion/schedule';

/** A number measured over several seeds. */
export interface Measured {
  mean: number;
  sd: number;
  values: number[];
}

export interface GenerationRow {
  model: string;
  parameters: number;
  first_fd: Measured;
  final_fd: Measured;
  first_rough: Measured;
  final_rough: Measured;
  first_spread: Measured;
  final_spread: Measured;
  nn_rms: Measured;
}

export interface DenoisingRow {
  t: number;
  model: string;
  oneshot_mse: Measured;
  chain_mse: Measured;
  oneshot_fd: Measured;
  chain_fd: Measured;
  oneshot_rough: Measured;
  chain_rough: Measured;
}

export interface CurvePoint {
  step: number;
  evals: number;
  fd_final: number;
  fd_first: number;
  spread?: number;
}

export interface Answers {
  measured: string;
  /** The chain every model runs (its timesteps, ascending). */
  chain: number[];
  held_out: number;
  training_images: number;
  models: Record<string, { parameters: number; trainer?: { evals?: number; mode?: string } }>;
  h2: { rows: GenerationRow[]; floors: { n: number; real: Measured; noise: Measured; real_spread: number }; grid_rows: string[] };
  h1: { rows: DenoisingRow[]; n: number; seeds: number[]; mean_image_mse?: number };
  curves: Record<string, CurvePoint[]>;
}

export interface Verdict {
  id: 'H1' | 'H2' | 'H3' | 'H4';
  claim: string;
  verdict: 'supported' | 'not supported' | 'partly supported' | 'not measured';
  /** The numbers behind it, in words. */
  evidence: string[];
}

/** The model names of answers.json (tools/answers_torch.py). */
export const TIME = 'time-conditioned (bundled)';

const f = (m: Measured | undefined, d = 2): string => (m === undefined ? '—' : m.sd > 0 ? `${m.mean.toFixed(d)} ± ${m.sd.toFixed(d)}` : m.mean.toFixed(d));
/** Evaluations in thousands or millions, rounded to the thousand (999,936 reads 1M). */
const k = (n: number): string => {
  const r = Math.round(n / 1000) * 1000;
  return r >= 1e6 ? `${(r / 1e6).toFixed(r % 1e6 ? 1 : 0)}M` : `${r / 1000}k`;
};
/** What a set's roughness (its neighbour differences against real images') says it looks like. */
const texture = (rough: Measured): string => (rough.mean > 1.5 ? 'noisy' : rough.mean < 0.7 ? 'a blur' : 'as sharp as real images');

/** Whether a model's final samples collapsed (eval/sets.ts collapsedSet). */
function collapsed(r: GenerationRow, realSpread: number): boolean {
  return collapsedSet(r.final_spread.mean, realSpread);
}

function evalsOf(a: Answers, name: string): string {
  const e = a.models[name]?.trainer?.evals;
  return e ? `${k(e)} image-gradient evaluations` : 'its bundled training';
}

export function verdicts(a: Answers): Verdict[] {
  const gen = new Map(a.h2.rows.map((r) => [r.model, r]));
  const den = (model: string, t: number): DenoisingRow | undefined => a.h1.rows.find((r) => r.model === model && r.t === t);
  const { floors } = a.h2, n = floors.n, realSpread = floors.real_spread;
  const out: Verdict[] = [];

  // H1: from a noised real image, a UNet's one-shot x0 is already good (as good as its chain), at the t where the input still holds the image.
  {
    const models = [TIME, 'layer'].filter((m) => den(m, a.chain[1]!));
    const ts = a.chain.slice(1);
    // Good: its MSE within 1.25x of the chain's from the same x_t, and as sharp as real images. MSE alone
    // would pass the blurry mean of the images x_t could be, and a noisy x0 whose error is near the chain's.
    const good = (m: string, t: number): boolean => {
      const r = den(m, t)!;
      return r.oneshot_mse.mean <= 1.25 * r.chain_mse.mean && texture(r.oneshot_rough) === 'as sharp as real images';
    };
    const until = (m: string): number => ts.filter((t) => ts.filter((u) => u <= t).every((u) => good(m, u))).at(-1) ?? 0;
    const reach = models.map(until);
    const ev = models.map((m, i) => {
      const lo = den(m, ts[0]!)!, mid = den(m, 500) ?? lo, hi = den(m, ts.at(-1)!)!, ideal = den('ideal', ts[0]!);
      return `${m}: one-shot x0 MSE ${f(lo.oneshot_mse, 4)} at t = ${lo.t} (chain ${f(lo.chain_mse, 4)}${ideal ? `; the ideal denoiser of the training set, which recalls the nearest training image, ${f(ideal.oneshot_mse, 4)}` : ''}), ${f(mid.oneshot_mse, 4)} at t = ${mid.t} (chain ${f(mid.chain_mse, 4)}), `
        + `as good as its chain up to t = ${reach[i]}; at t = ${hi.t} the one-shot x0 is ${texture(hi.oneshot_rough)} (roughness ${f(hi.oneshot_rough)}, MSE ${f(hi.oneshot_mse, 3)}) and the chain from the same x_t does ${hi.chain_mse.mean < hi.oneshot_mse.mean ? 'better' : 'no better'} (MSE ${f(hi.chain_mse, 3)}, roughness ${f(hi.chain_rough)}).`;
    });
    out.push({
      id: 'H1', claim: 'Each UNet is a good denoiser: given a·x0 + b·ε of a real image, its x0 is good.',
      verdict: models.length === 0 ? 'not measured' : reach.every((t) => t >= 500) ? 'supported' : reach.some((t) => t >= 300) ? 'partly supported' : 'not supported',
      evidence: [...ev, `${a.h1.n} held-out emoji, ${a.h1.seeds.length} noise seeds; MSE per value against the clean image (pixels in [-1, 1]); "as good as its chain" means an MSE within 1.25x of the chain's, neither a blur nor noisy.`],
    });
  }

  // H2: from pure noise the first x0 is not a sample; the chain is what makes one.
  {
    const models = [TIME, 'layer'].map((m) => gen.get(m)).filter((r): r is GenerationRow => r !== undefined);
    const ideal = gen.get('ideal');
    const ok = models.length > 0 && models.every((r) => r.first_fd.mean > 2 * r.final_fd.mean);
    const ev = models.map((r) => `${r.model}: FD ${f(r.first_fd)} for the first step's x0 (roughness ${f(r.first_rough)}: ${texture(r.first_rough)}) against ${f(r.final_fd)} for the final samples (roughness ${f(r.final_rough)}).`);
    if (ideal) {
      ev.push(`The ideal denoiser (the exact posterior mean of the ${a.training_images.toLocaleString('en-US')} training images): its first x0 is ${collapsedSet(ideal.first_spread.mean, realSpread) ? 'the average, one picture,' : 'varied,'} and ${texture(ideal.first_rough)} (spread ${f(ideal.first_spread, 3)}, roughness ${f(ideal.first_rough)}, FD ${f(ideal.first_fd)}); its chain ends ${ideal.nn_rms.mean < 0.05 ? 'on training images' : 'away from the training images'} (FD ${f(ideal.final_fd)}, distance to the nearest training image ${f(ideal.nn_rms, 3)} RMS).`);
    }
    // Why, in one line: x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar) at the chain's first t.
    const t = Math.max(...a.chain), abar = alphaBars(betaSchedule(DEFAULT_DIFFUSION))[t]!;
    ev.push(`So the first x0 cannot be the result: at t = ${t} it is E[x0 | x_t], the training set's blurry average, for a perfect model, and x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar) multiplies any error in a trained model's eps by ${Math.sqrt((1 - abar) / abar).toFixed(0)}, which turns that average into noise; only the chain's later steps, each from a less noisy x_t, pick one image.`);
    ev.push(`${n} samples from the same noises, ${floors.real.values.length} seeds; at this n, ${n} training images score FD ${f(floors.real)} and ${n} noises ${f(floors.noise, 1)}.`);
    out.push({
      id: 'H2', claim: 'From pure noise, the first x0 is not a sample: a chain is needed.',
      verdict: models.length === 0 ? 'not measured' : ok ? 'supported' : 'not supported', evidence: ev,
    });
  }

  // H3: end to end fails, and why: (1) parameters, (2) supervision on x instead of the noise, (3) the DDIM chain in between.
  // An arm "works" when its samples are as varied as real images and score within 2x the FD the layer
  // loss had reached at the same budget (its curve); it fails by collapsing to one picture or by staying noise.
  {
    const e2e = gen.get('end2end'), layer = gen.get('layer');
    const bar = (r: GenerationRow): number => {
      const evals = a.models[r.model]?.trainer?.evals, curve = a.curves['layer'] ?? [];
      const at = evals === undefined ? undefined : curve.reduce<CurvePoint | undefined>((best, p) => (!best || Math.abs(p.evals - evals) < Math.abs(best.evals - evals) ? p : best), undefined);
      return 2 * (at?.fd_final ?? layer?.final_fd.mean ?? floors.noise.mean / 8);
    };
    // As far from the data as noise, by FD; noise itself only where it is also noisy (rough): a set
    // of flat, saturated patches is as far from emoji, and is no noise.
    const farAsNoise = (r: GenerationRow): boolean => r.final_fd.mean > 0.5 * floors.noise.mean;
    const noiseLike = (r: GenerationRow): boolean => farAsNoise(r) && texture(r.final_rough) === 'noisy';
    const works = (r: GenerationRow): boolean => !collapsed(r, realSpread) && r.final_fd.mean <= bar(r);
    const looks = (r: GenerationRow): string => (collapsed(r, realSpread) ? 'collapsed to one picture' : noiseLike(r) ? 'noise'
      : farAsNoise(r) ? `no emoji (as far from them as noise, though ${texture(r.final_rough)})` : works(r) ? 'varied samples' : 'varied but poor samples');
    const part = (r: GenerationRow | undefined): Verdict['verdict'] => (r === undefined ? 'not measured' : works(r) ? 'supported' : 'not supported');
    const ev: string[] = [];
    if (e2e && layer) {
      ev.push(`At ${evalsOf(a, 'end2end')} each, the end-to-end chain's samples all look alike (spread ${f(e2e.final_spread, 3)}, real images ${realSpread.toFixed(3)}; FD ${f(e2e.final_fd)}), where the layer loss makes varied samples (spread ${f(layer.final_spread, 3)}, FD ${f(layer.final_fd)}).`);
    }
    const arm = (name: string, what: string): string | undefined => {
      const r = gen.get(name);
      return r ? `${what}: ${looks(r)} (FD ${f(r.final_fd)}, spread ${f(r.final_spread, 3)}) at ${evalsOf(a, name)}; the layer loss had FD ${(bar(r) / 2).toFixed(2)} at that budget.` : undefined;
    };
    const small = gen.get('e2e_ch8'), noise = gen.get('e2e_correction'), teacher = gen.get('e2e_teacher');
    const parts = [part(small), part(noise), part(teacher)];
    ev.push(...[
      arm('e2e_ch8', '(1) 4x fewer parameters per sub-model (ch 8)'), arm('layer_ch8', 'For comparison, the layer loss at ch 8'),
      arm('e2e_correction', '(2) the same chain supervised on the noise (the correction term: each step\'s residual is the noise loss on the chain\'s own input)'),
      arm('e2e_teacher', '(3) no chain in between (teacher forcing: every step on the true x_t, the loss still on x0 at the end)'),
      arm('e2e_gtA', 'DDPM\'s Markov forward process as the ground truth (A) instead of DDIM\'s one shared noise (D), the chain kept'),
      arm('e2e_gtB', 'Independent noise at every t as the ground truth (B), the chain kept'),
      arm('e2e_globalclip', 'One gradient-norm clip over the whole chain (the engine\'s end-to-end mode) instead of one per sub-model'),
    ].filter((x): x is string => x !== undefined));
    if (e2e && collapsed(e2e, realSpread)) {
      ev.push('Why it collapses: trained to land on its training image, the deterministic chain from x_T learns E[x0 | x_T], the least-squares answer, and x_T tells almost nothing about which image it was noised from: it learns the average, the ideal denoiser\'s first-step x0, as one picture.');
    }
    if (noise && noiseLike(noise)) {
      ev.push(`Supervised on the noise through the chain, it does not collapse but does not denoise either: its samples stay noise (FD ${f(noise.final_fd)}; ${n} noises score ${f(floors.noise, 1)}).`);
    }
    if (teacher && works(teacher)) {
      ev.push('The same sub-models and x0 loss without the chain between them train like the layer loss: what fails is training through the chain, not the sub-models or the x0 loss.');
    }
    const measured = parts.filter((p) => p !== 'not measured');
    const supported = measured.filter((p) => p === 'supported').length;
    out.push({
      id: 'H3', claim: 'End-to-end training fails because of (1) too many parameters, (2) supervision on x0 instead of the noise, (3) DDIM sampling in between.',
      verdict: !e2e || measured.length === 0 ? 'not measured' : works(e2e) ? 'not supported' : supported === 0 ? 'not supported' : supported === 3 ? 'supported' : 'partly supported',
      evidence: [`(1) parameters: ${parts[0]}; (2) x0 instead of noise supervision: ${parts[1]}; (3) DDIM in between: ${parts[2]}.`, ...ev],
    });
  }

  // H4: a smaller model, trained end to end, is a denoiser (even if not a generator): at every t of the
  // chain's lower half, where x_t still holds the image, its chain ends near the clean image, about as near
  // as the layer loss at the same size and far nearer than the mean image, which ignores its input.
  {
    const small = 'e2e_ch8', ref = den('layer_ch8', a.chain[1]!) ? 'layer_ch8' : 'layer';
    const ts = a.chain.slice(1).filter((t) => t <= 500 && den(small, t) && den(ref, t));
    const meanMse = a.h1.mean_image_mse;
    const ev: string[] = [];
    const at = (t: number): string => {
      const s = den(small, t)!, r = den(ref, t)!;
      return `at t = ${t} MSE ${f(s.chain_mse, 4)} (roughness ${f(s.chain_rough)}), the layer loss at ${ref === 'layer_ch8' ? 'the same size' : 'full size'} ${f(r.chain_mse, 4)} (the end-to-end error is ${(s.chain_mse.mean / r.chain_mse.mean).toFixed(1)}x that)`;
    };
    if (ts.length) {
      ev.push(`From x_t of a held-out emoji, the small end-to-end chain (ch 8, ${evalsOf(a, small)}) ends ${at(ts[0]!)}; ${at(ts.at(-1)!)}.`);
      if (meanMse !== undefined) ev.push(`The mean training image, which ignores x_t, scores MSE ${meanMse.toFixed(4)}.`);
      const big = den('end2end', ts[0]!);
      if (big) {
        const same = big.chain_mse.mean <= 1.5 * den(small, ts[0]!)!.chain_mse.mean && den(small, ts[0]!)!.chain_mse.mean <= 1.5 * big.chain_mse.mean;
        ev.push(`The full-size end-to-end chain (ch 16) at t = ${ts[0]}: MSE ${f(big.chain_mse, 4)}${same ? '; the size changes little' : ''}.`);
      }
    }
    const sg = gen.get(small);
    if (sg) ev.push(`From pure noise it ${collapsed(sg, realSpread) ? 'collapses to one picture' : 'makes varied samples'} (spread ${f(sg.final_spread, 3)}, FD ${f(sg.final_fd)}).`);
    const denoises = ts.length === 0 || meanMse === undefined ? undefined
      : ts.every((t) => den(small, t)!.chain_mse.mean <= Math.min(1.5 * den(ref, t)!.chain_mse.mean, 0.5 * meanMse));
    out.push({
      id: 'H4', claim: 'A smaller model can be trained end to end as a denoiser.',
      verdict: denoises === undefined ? 'not measured' : denoises ? 'supported' : 'not supported', evidence: ev,
    });
  }
  return out;
}
