// The DDPM training loss of the reference (ermongroup/ddim noise_estimation_loss):
//   loss = (1/B) sum_b sum_{c,h,w} (noise - eps)^2,  eps = model(x_t, t) (B, C, H, W)
// i.e. a per-sample sum of squares averaged over the batch, not a mean over all elements.

import type { HostTensor } from '../host/tensor';
import { expectShape, zeros } from './tensor';

export function ddpmLoss(eps: HostTensor, noise: HostTensor): number {
  expectShape(noise, eps.shape, 'ddpmLoss noise');
  let sum = 0;
  for (let i = 0; i < eps.data.length; i++) sum += (noise.data[i] - eps.data[i]) ** 2;
  return sum / eps.shape[0];
}

/** d loss / d eps = 2 (eps - noise) / B. */
export function ddpmLossBackward(eps: HostTensor, noise: HostTensor): HostTensor {
  expectShape(noise, eps.shape, 'ddpmLossBackward noise');
  const B = eps.shape[0];
  const deps = zeros(eps.shape);
  for (let i = 0; i < eps.data.length; i++) deps.data[i] = (2 * (eps.data[i] - noise.data[i])) / B;
  return deps;
}
