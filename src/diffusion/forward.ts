// The forward process and the scores of a prediction, on the host (float64 arithmetic on f32 images),
// for the experiments that work image by image (the Denoise tab, the research experiments, the
// layered ground truths, inversion reports):
//   x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise        (q(x_t | x0) with a given noise)
//   x0  = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)      (the x0 an eps prediction implies)
// Images are in [-1, 1]; PSNR takes the peak-to-peak range 2.

export function noised(x0: Float32Array, noise: Float32Array, abar: number): Float32Array {
  const [a, b] = [Math.sqrt(abar), Math.sqrt(1 - abar)];
  return x0.map((v, i) => a * v + b * noise[i]!);
}

export function x0FromEps(xt: Float32Array, eps: Float32Array, abar: number): Float32Array {
  const [a, b] = [Math.sqrt(abar), Math.sqrt(1 - abar)];
  return xt.map((v, i) => (v - b * eps[i]!) / a);
}

/** Mean squared error per value of `pred` against `clean`, the prediction clipped to [-1, 1] as it is shown. */
export function clippedMse(pred: Float32Array, clean: Float32Array): number {
  let se = 0;
  for (let i = 0; i < clean.length; i++) se += (Math.min(1, Math.max(-1, pred[i]!)) - clean[i]!) ** 2;
  return se / clean.length;
}

/** PSNR in dB of an MSE of images in [-1, 1] (peak-to-peak 2). */
export function psnr(mse: number): number {
  return 10 * Math.log10(4 / Math.max(mse, 1e-12));
}
