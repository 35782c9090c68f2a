// Optimizer math of the reference training step: global-norm gradient clipping
// (torch.nn.utils.clip_grad_norm_), Adam (torch.optim.Adam, L2 weight decay, not AdamW) and the
// EMA of the weights (ermongroup/ddim EMAHelper). All updates are in place on float32 arrays,
// computed per element in float64 and rounded once on store.

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** L2 penalty added to the gradient (PyTorch Adam's weight_decay), 0 for none. */
  weightDecay: number;
}

/** sqrt of the sum of squares of every element of every gradient (float64 accumulation). */
export function globalNorm(grads: Float32Array[]): number {
  let sumSq = 0;
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) sumSq += g[i] * g[i];
  }
  return Math.sqrt(sumSq);
}

/** Factor clip_grad_norm_ multiplies every gradient by: min(1, maxNorm / (norm + 1e-6)). */
export function clipScale(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/**
 * One Adam step on parameter p with gradient g and moments m, v, all in place; step counts from 1.
 * Same formula as torch.optim.Adam (single-tensor path):
 *   g += wd p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
 * The gradient array itself is not modified.
 */
export function adamStep(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  step: number,
  opts: AdamOptions,
): void {
  if (g.length !== p.length || m.length !== p.length || v.length !== p.length) {
    throw new Error(`adamStep: p, g, m, v have ${p.length}, ${g.length}, ${m.length}, ${v.length} values, expected equal`);
  }
  if (!Number.isInteger(step) || step < 1) throw new Error(`adamStep: step=${step}, expected an integer >= 1`);
  const { lr, beta1, beta2, eps, weightDecay } = opts;
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  for (let i = 0; i < p.length; i++) {
    const grad = g[i] + weightDecay * p[i];
    m[i] = beta1 * m[i] + (1 - beta1) * grad;
    v[i] = beta2 * v[i] + (1 - beta2) * grad * grad;
    p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + eps);
  }
}

/** ema = rate * ema + (1 - rate) * p, in place (rate 0.9999 in the reference config). */
export function emaUpdate(ema: Float32Array, p: Float32Array, rate: number): void {
  if (ema.length !== p.length) throw new Error(`emaUpdate: ema has ${ema.length} values, p has ${p.length}`);
  for (let i = 0; i < p.length; i++) ema[i] = rate * ema[i] + (1 - rate) * p[i];
}
