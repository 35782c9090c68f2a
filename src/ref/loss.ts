// The DDPM training loss of the reference (ermongroup/ddim noise_estimation_loss):
//   loss = (1/B) sum_b w_b sum_{c,h,w} (noise - eps)^2,  eps = model(x_t, t) (B, C, H, W)
// i.e. a per-sample sum of squares averaged over the batch, not a mean over all elements; w_b = 1 in
// the reference, min(SNR_t, gamma) / SNR_t with min-SNR weighting (lossWeightOfT in train/recipe.ts).

import type { HostTensor } from '../host/tensor';
import { expectShape, zeros } from './tensor';

function sampleWeight(weights: readonly number[] | undefined, i: number, per: number): number {
  return weights ? weights[Math.floor(i / per)] : 1;
}

export function ddpmLoss(eps: HostTensor, noise: HostTensor, weights?: readonly number[]): number {
  expectShape(noise, eps.shape, 'ddpmLoss noise');
  const per = eps.data.length / eps.shape[0];
  let sum = 0;
  for (let i = 0; i < eps.data.length; i++) sum += sampleWeight(weights, i, per) * (noise.data[i] - eps.data[i]) ** 2;
  return sum / eps.shape[0];
}

/** d loss / d eps = 2 w_b (eps - noise) / B. */
export function ddpmLossBackward(eps: HostTensor, noise: HostTensor, weights?: readonly number[]): HostTensor {
  expectShape(noise, eps.shape, 'ddpmLossBackward noise');
  const B = eps.shape[0];
  const per = eps.data.length / B;
  const deps = zeros(eps.shape);
  for (let i = 0; i < eps.data.length; i++) deps.data[i] = (2 * sampleWeight(weights, i, per) * (eps.data[i] - noise.data[i])) / B;
  return deps;
}
