// DDIM inversion, the same for the Denoise tab and `ddim invert`: images carried up the
// deterministic chain (eta 0 run backwards, inversionCoefficients) to their x_T, then back down the
// same timesteps, with each round trip's PSNR: how well the x_T stands for its image.
import { clippedMse, psnr } from '../diffusion/forward';
import { inversionCoefficients, type StepCoefficients } from '../diffusion/samplers';
import type { SkipType } from '../diffusion/timesteps';
import { runChain } from '../engine/sampler';
import type { StepModel } from '../engine/step-model';
import { fixedChainText, type ModelFile } from './model-files';
import { ddimSpec, planChain } from './sampling';

export interface InversionPlan {
  /** The timesteps, ascending. */
  seq: number[];
  up: StepCoefficients[];
  down: StepCoefficients[];
}

export interface Inversion {
  seq: number[];
  xT: Float32Array;
  reconstruction: Float32Array;
  /** Per image: PSNR (dB, peak-to-peak 2) of the reconstruction, clipped as it is shown. */
  psnr: number[];
}

/**
 * Checks `steps` and `skip` (errors say "inversion: …") and plans both directions on a model's
 * schedule. A model that fixes its chain (a layered one) is refused: the inversion starts with eps
 * at t = 0, where a layered model has no sub-model.
 */
export function planInversion(m: ModelFile, steps: number, skip: SkipType = 'uniform'): InversionPlan {
  if (m.fixedChain) throw new Error(`${m.source}: ${fixedChainText(m.fixedChain)}, and DDIM inversion starts with the model's eps at t = 0, where it has no sub-model: it cannot be inverted`);
  const down = planChain(m.diffusion, ddimSpec(steps, 0, skip), { context: 'inversion', source: m.source });
  return { seq: down.seq, up: inversionCoefficients(down.seq, down.abar), down: down.coefficients };
}

/**
 * Inverts `images` (as many as `net`'s batch, in [-1, 1]) and reconstructs them; `onStep(k)` after
 * each of the 2 x steps (up, then down), as runChain's.
 */
export async function invertImages(device: GPUDevice, net: StepModel, plan: InversionPlan, images: Float32Array, onStep?: (k: number) => void | Promise<void>): Promise<Inversion> {
  const still = { kind: 'rng', seed: 0 } as const; // eta 0 draws no noise
  const xT = await runChain(device, net, plan.up, still, images, onStep);
  const reconstruction = await runChain(device, net, plan.down, still, xT, onStep && ((k) => onStep(plan.up.length + k)));
  const n = net.x.shape[0]!, per = images.length / n;
  const psnrs = Array.from({ length: n }, (_, i) => psnr(clippedMse(reconstruction.subarray(i * per, (i + 1) * per), images.subarray(i * per, (i + 1) * per))));
  return { seq: plan.seq, xT, reconstruction, psnr: psnrs };
}
