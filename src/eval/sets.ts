// What a set of images looks like as a set, besides its Fréchet distance (eval/frechet.ts): how sharp
// it is and how much its images differ from each other. The Research tab and `ddim research` score
// one-shot predictions, chains and samples with these, beside the FD:
//   roughness  the mean |difference| between horizontally and vertically neighbouring values, per
//              image, averaged (tools/eval_torch.py neighbour_roughness); relative to real images it
//              reads 1 when as sharp as they are, below 1 when blurred, above 1 when noisy; per image,
//              it is also the noise test of `ddim eval` (noiseShare);
//   spread     the standard deviation of each value across the set, averaged over values: 0 when every
//              image is the same (a chain that collapses to one picture), about 0.5 for the emoji.
// Images are (N, C, S, S) in [-1, 1], clamped to it first, as they are shown and scored.
import { fitGaussian, frechetDistance, pooledFeatures, type GaussianFit } from './frechet';

const clamp = (v: number): number => Math.min(1, Math.max(-1, v));

/** Each image's roughness (not relative to anything): the mean |difference| of its neighbouring values. */
export function imageRoughness(images: Float32Array, C: number, S: number): Float64Array {
  const per = C * S * S, n = images.length / per;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let dx = 0, dy = 0;
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const at = i * per + (c * S + y) * S + x, v = clamp(images[at]!);
          if (x + 1 < S) dx += Math.abs(clamp(images[at + 1]!) - v);
          if (y + 1 < S) dy += Math.abs(clamp(images[at + S]!) - v);
        }
      }
    }
    out[i] = (dx / (C * S * (S - 1)) + dy / (C * (S - 1) * S)) / 2;
  }
  return out;
}

/** The mean roughness of a set of images. */
export function roughness(images: Float32Array, C: number, S: number): number {
  const r = imageRoughness(images, C, S);
  let total = 0;
  for (const v of r) total += v;
  return total / r.length;
}

/**
 * The noise test of tools/eval_torch.py (issue 11's definition, the README's Table 1): a sample is
 * noise when its roughness exceeds the 99.9th percentile of the real images' (torch.quantile's linear
 * interpolation between order statistics). `noiseLimit` fits it once on the real images, `noiseShare`
 * is the fraction of a set's images above it.
 */
export function noiseLimit(real: Float32Array, C: number, S: number): number {
  const r = imageRoughness(real, C, S).sort();
  const pos = 0.999 * (r.length - 1), lo = Math.floor(pos), hi = Math.min(lo + 1, r.length - 1);
  return r[lo]! + (pos - lo) * (r[hi]! - r[lo]!);
}

export function noiseShare(images: Float32Array, C: number, S: number, limit: number): number {
  const r = imageRoughness(images, C, S);
  return r.filter((v) => v > limit).length / r.length;
}

export function spread(images: Float32Array, per: number): number {
  const n = images.length / per;
  let total = 0;
  for (let d = 0; d < per; d++) {
    let s = 0, sq = 0;
    for (let i = 0; i < n; i++) {
      const v = clamp(images[i * per + d]!);
      s += v;
      sq += v * v;
    }
    const m = s / n;
    total += Math.sqrt(Math.max(0, sq / n - m * m));
  }
  return total / per;
}

/**
 * Below this many images the covariance of the 192 pooled features cannot be full rank (it has at most
 * n - 1 dimensions), so the FD is biased upwards: numbers at a smaller n compare only with each other
 * and with the floor at the same n, not with the README's (384).
 */
export const RELIABLE_FD_N = 192;

/** A number measured with several seeds: their mean and sample standard deviation (0 with one seed). */
export interface Stat {
  mean: number;
  sd: number;
}

export function stat(values: readonly number[]): Stat {
  const n = values.length, mean = values.reduce((a, b) => a + b, 0) / n;
  return { mean, sd: n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0 };
}

/** A set's scores against reference images (held-out data): FD of pooled pixels, roughness relative to the reference's, spread. */
export interface SetScores {
  fd: number;
  roughness: number;
  spread: number;
}

/** Scores of a set of images over several seeds. */
export interface SetStats {
  fd: Stat;
  /** Relative to the reference's: 1 as sharp, below blurred, above noisy. */
  roughness: Stat;
  /** Per-value std across the set: 0 when every image is the same. */
  spread: Stat;
}

/** Whether a set has collapsed: its images barely differ, their spread under a fifth of the real
 *  images'. Its FD at small n can score below the real images' own, so the Research tab and its
 *  verdicts name it rather than rank it. */
export function collapsedSet(spread: number, realSpread: number): boolean {
  return spread < 0.2 * realSpread;
}

export function setStats(scores: readonly SetScores[]): SetStats {
  return { fd: stat(scores.map((s) => s.fd)), roughness: stat(scores.map((s) => s.roughness)), spread: stat(scores.map((s) => s.spread)) };
}

/** Scores image sets against one reference set (fitted once). */
export class SetMeasure {
  private readonly fit: GaussianFit;
  private readonly realRoughness: number;

  constructor(readonly reference: Float32Array, readonly channels: number, readonly resolution: number) {
    this.fit = fitGaussian(pooledFeatures(reference, channels, resolution));
    this.realRoughness = roughness(reference, channels, resolution);
  }

  /** FD of n >= 2 images (clamped to [-1, 1]) against the reference. */
  fd(images: Float32Array): number {
    return frechetDistance(fitGaussian(pooledFeatures(images.map(clamp), this.channels, this.resolution)), this.fit);
  }

  score(images: Float32Array): SetScores {
    return {
      fd: this.fd(images),
      roughness: roughness(images, this.channels, this.resolution) / this.realRoughness,
      spread: spread(images, this.channels * this.resolution * this.resolution),
    };
  }
}
