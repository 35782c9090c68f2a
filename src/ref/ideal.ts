// CPU reference of shaders/ideal.wgsl, in float64: the posterior mean of x0 given x_t under the
// empirical distribution of `data` (N images of D values), and the eps it implies.
//   w_i = softmax_i(-|x - sqrt(a) X_i|^2 / (2 (1 - a))),  x0 = sum_i w_i X_i,  eps = (x - sqrt(a) x0) / sqrt(1 - a)

export function idealDenoiser(x: Float32Array, ts: readonly number[], abar: ArrayLike<number>, data: Float32Array, count: number): { x0: Float32Array; eps: Float32Array; weights: Float64Array } {
  const B = ts.length, D = x.length / B;
  const x0 = new Float32Array(B * D), eps = new Float32Array(B * D), weights = new Float64Array(B * count);
  for (let b = 0; b < B; b++) {
    const a = abar[ts[b]!]!, s = Math.sqrt(a);
    const logits = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      let dist = 0;
      for (let d = 0; d < D; d++) dist += (x[b * D + d]! - s * data[i * D + d]!) ** 2;
      logits[i] = -dist / (2 * (1 - a));
    }
    const top = Math.max(...logits);
    let z = 0;
    for (let i = 0; i < count; i++) z += Math.exp(logits[i]! - top);
    for (let i = 0; i < count; i++) weights[b * count + i] = Math.exp(logits[i]! - top) / z;
    for (let d = 0; d < D; d++) {
      let m = 0;
      for (let i = 0; i < count; i++) m += weights[b * count + i]! * data[i * D + d]!;
      x0[b * D + d] = m;
      eps[b * D + d] = (x[b * D + d]! - s * m) / Math.sqrt(1 - a);
    }
  }
  return { x0, eps, weights };
}
