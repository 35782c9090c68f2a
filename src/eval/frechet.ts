// A sample-quality number that needs no download: the Fréchet distance between Gaussian fits of
// fixed features of two image sets (the FID formula, with documented pixel features instead of
// Inception activations), and a nearest-neighbour check that makes memorisation visible.
//
// Features: each image (C, S, S) in [-1, 1] average-pooled to 8 x 8 per channel -> 64 C values.
//   FD = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1^1/2 S2 S1^1/2)^1/2)
// in float64, with symmetric eigen-decompositions (cyclic Jacobi) for the square roots.

export const FEATURE_SIZE = 8;

/** (n, C*8*8) features of n images (C, S, S); S must be a multiple of 8. */
export function pooledFeatures(images: Float32Array, C: number, S: number): Float64Array[] {
  if (S % FEATURE_SIZE !== 0) throw new Error(`features: image size ${S} is not a multiple of ${FEATURE_SIZE}`);
  const per = C * S * S;
  const f = S / FEATURE_SIZE;
  const n = images.length / per;
  const out: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float64Array(C * FEATURE_SIZE * FEATURE_SIZE);
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          v[(c * FEATURE_SIZE + Math.floor(y / f)) * FEATURE_SIZE + Math.floor(x / f)]! += images[i * per + (c * S + y) * S + x]! / (f * f);
        }
      }
    }
    out.push(v);
  }
  return out;
}

export interface GaussianFit {
  mean: Float64Array;
  /** d x d covariance, row-major (unbiased, as numpy.cov). */
  cov: Float64Array;
  d: number;
}

export function fitGaussian(features: readonly Float64Array[]): GaussianFit {
  const n = features.length;
  if (n < 2) throw new Error(`frechet: need at least 2 samples to fit a covariance, got ${n}`);
  const d = features[0]!.length;
  const mean = new Float64Array(d);
  for (const f of features) for (let j = 0; j < d; j++) mean[j]! += f[j]! / n;
  const cov = new Float64Array(d * d);
  for (const f of features) {
    for (let a = 0; a < d; a++) {
      const da = f[a]! - mean[a]!;
      for (let b = a; b < d; b++) cov[a * d + b]! += (da * (f[b]! - mean[b]!)) / (n - 1);
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov[a * d + b] = cov[b * d + a]!;
  return { mean, cov, d };
}

/** Eigenvalues and eigenvectors (columns of `vectors`) of a symmetric matrix, by cyclic Jacobi rotations. */
export function symmetricEigen(m: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * d + q]! - a[p * d + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p]!, akq = a[k * d + q]!;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k]!, aqk = a[q * d + k]!;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!, vkq = v[k * d + q]!;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: d }, (_, i) => a[i * d + i]!), vectors: v };
}

/** Symmetric PSD square root (negative round-off eigenvalues clamped to 0). */
function sqrtPsd(m: Float64Array, d: number): Float64Array {
  const { values, vectors } = symmetricEigen(m, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt(Math.max(0, values[k]!));
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j]! += vectors[i * d + k]! * s * vectors[j * d + k]!;
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) {
    const aik = a[i * d + k]!;
    for (let j = 0; j < d; j++) out[i * d + j]! += aik * b[k * d + j]!;
  }
  return out;
}

export function frechetDistance(g1: GaussianFit, g2: GaussianFit): number {
  if (g1.d !== g2.d) throw new Error(`frechet: feature sizes differ (${g1.d} vs ${g2.d})`);
  const d = g1.d;
  let dist = 0;
  for (let i = 0; i < d; i++) dist += (g1.mean[i]! - g2.mean[i]!) ** 2 + g1.cov[i * d + i]! + g2.cov[i * d + i]!;
  const r = sqrtPsd(g1.cov, d);
  const inner = matmul(matmul(r, g2.cov, d), r, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) inner[i * d + j] = inner[j * d + i] = (inner[i * d + j]! + inner[j * d + i]!) / 2;
  const { values } = symmetricEigen(inner, d);
  for (const v of values) dist -= 2 * Math.sqrt(Math.max(0, v));
  return Math.max(0, dist);
}

/** For each image of `a`, the index of and the RMS pixel distance to its nearest image in `b`. */
export function nearestNeighbours(a: Float32Array, b: Float32Array, per: number): { index: number; rms: number }[] {
  const nb = b.length / per;
  const out: { index: number; rms: number }[] = [];
  for (let i = 0; i < a.length / per; i++) {
    let best = Infinity, at = -1;
    for (let j = 0; j < nb; j++) {
      let s = 0;
      for (let k = 0; k < per && s < best; k++) s += (a[i * per + k]! - b[j * per + k]!) ** 2;
      if (s < best) { best = s; at = j; }
    }
    out.push({ index: at, rms: Math.sqrt(best / per) });
  }
  return out;
}
