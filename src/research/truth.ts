// Ground-truth trajectories for end-to-end training through the layered chain (the seed's three
// kinds), in chain order: entry 0 at the largest t of seq (the chain's input), then one per step down
// to t = 0. abar_t = prod_{s <= t} (1 - beta_s).
//   D  deterministic: every true x_t shares the one noise: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise
//      (the reference's recursion true_x_j = sqrt(abar_j) x0 + sqrt(1 - abar_j)(true_x_i - sqrt(abar_i) x0)/sqrt(1 - abar_i)
//      is this formula).
//   A  Markov forward noising, as the seed's ground_truth('A'): x at t = 0 is x0 itself, then upwards
//      true_x_i = sqrt(abar_i/abar_j) true_x_j + sqrt(1 - abar_i/abar_j) eps_fresh for each larger t_i
//      (`noise` is not used).
//   B  independent: x at the largest t from `noise`, every other t with its own fresh noise.
// Fresh noise is the Philox Gaussian stream (seed, stream = 100 + index of t in seq), so runs repeat.
import { noised } from '../diffusion/forward';
import { gaussian } from '../host/rng';
import type { LayeredModel } from './layered';

export type GroundTruth = 'D' | 'A' | 'B';
export const GROUND_TRUTHS: readonly GroundTruth[] = ['D', 'A', 'B'];

export function groundTruth(kind: GroundTruth, m: LayeredModel, x0: Float32Array, noise: Float32Array, seed: number): Float32Array[] {
  if (noise.length !== x0.length) throw new Error(`ground truth: noise has ${noise.length} values, x0 ${x0.length}`);
  const ts = [...m.seq].reverse(); // chain order: largest t first
  const fresh = (t: number): Float32Array => gaussian(seed, 100 + m.seq.indexOf(t), 0, x0.length);
  if (kind === 'D') return ts.map((t) => noised(x0, noise, m.abar[t]!));
  if (kind === 'B') return ts.map((t, k) => noised(x0, k === 0 ? noise : fresh(t), m.abar[t]!));
  // A: from x0 at t = 0 upwards, then reversed into chain order.
  const up = [Float32Array.from(x0)];
  for (let k = 1; k < m.seq.length; k++) {
    const [ti, tj] = [m.seq[k]!, m.seq[k - 1]!];
    const r = m.abar[ti]! / m.abar[tj]!;
    const eps = fresh(ti), prev = up[k - 1]!;
    up.push(prev.map((v, i) => Math.sqrt(r) * v + Math.sqrt(1 - r) * eps[i]!));
  }
  return up.reverse();
}
