// Sinusoidal timestep embedding of the reference UNet (ermongroup/ddim get_timestep_embedding):
//   half = floor(dim / 2);  freq_i = exp(i * -(ln(10000) / (half - 1))),  i = 0 .. half-1
//   emb[b] = [sin(t_b freq_0..), cos(t_b freq_0..)], plus one zero column when dim is odd.
// Every step rounds to float32 as PyTorch does (the scale is a Python double that PyTorch casts to
// float32 before multiplying a float32 tensor): at t = 999 one float32 ulp of the argument t*freq is
// up to 6e-5, so where the argument is rounded decides the last digits of sin/cos. What remains is
// PyTorch's vectorized float32 exp, which is 1 ulp off the correctly rounded exp for 2 of the 16
// frequencies of dim 32; that moves sin/cos at t = 999 by at most 1.5e-5 (vs 2.9e-5 with float64
// frequencies), inside the forward tolerance for the golden. No backward: t is not a trained input.

import type { HostTensor } from '../host/tensor';
import { timestepFrequencies } from '../host/layers';
import { zeros } from './tensor';

const f32 = Math.fround;


export function timestepEmbedding(t: Float32Array, dim: number): HostTensor {
  const freq = timestepFrequencies(dim);
  const half = freq.length;
  const emb = zeros([t.length, dim]);
  for (let b = 0; b < t.length; b++) {
    for (let i = 0; i < half; i++) {
      const arg = f32(t[b] * freq[i]);
      emb.data[b * dim + i] = Math.sin(arg);
      emb.data[b * dim + half + i] = Math.cos(arg);
    }
  }
  return emb;
}
