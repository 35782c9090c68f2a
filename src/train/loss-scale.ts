// The dynamic loss scale of the reduced-precision tiers (gpu/tier.ts), shared by every trainer: its
// starting state on the GPU, and its tensor in a checkpoint, checked before a resume writes anything.
// The rule itself (skip on overflow, halve, grow) runs on the GPU: reduce.wgsl FLAG_LOSS_SCALE; Adam
// counts only the steps taken: adam.wgsl FLAG_SKIPS.
import { createTensorFrom, upload, type Tensor } from '../gpu/tensor';
import { deviceTier } from '../gpu/tier';
import { getTensor } from '../io/safetensors';
import type { SafetensorsFile } from '../host/tensor';
import type { LossScaleState } from '../kernels/reduce';

/** The loss scale starts at 2^10 and doubles after 2000 good steps in a row (GradScaler's interval).
 *  Not GradScaler's 2^16: this loss sums over (C, H, W), so d loss / d eps is O(1), not O(1/n) as
 *  for a mean, and 2^16 times it already overflows f16 at the first GEMM of the backward; 2^10 keeps
 *  the reference UNets' activation gradients under 65504 and lifts small ones out of f16's
 *  subnormals. An overflow halves it anyway. State (4) = (S, good steps, -, skipped steps). */
export const INITIAL_LOSS_SCALE = Float32Array.of(2 ** 10, 0, 0, 0);
export const LOSS_SCALE_GROWTH_INTERVAL = 2000;

/** A checkpoint's tensor of the loss scale's state (reduced-precision tiers only). */
export const LOSS_SCALE_TENSOR = 'loss_scale';

/** The loss scale's state at its start, on devices whose tier rounds GEMM operands (none in fp32). */
export function createLossScale(device: GPUDevice, label: string): LossScaleState | undefined {
  if (deviceTier(device).tier === 'fp32') return undefined;
  return { scaler: createTensorFrom(device, [4], INITIAL_LOSS_SCALE, `${label}.loss_scale`), growthInterval: LOSS_SCALE_GROWTH_INTERVAL };
}

/** A checkpoint's loss-scale state, if it has one, checked before anything is written: S finite and
 *  >= 1, and the skipped steps a count Adam can subtract from the step (adam.wgsl FLAG_SKIPS). */
export function savedLossScale(file: SafetensorsFile, step: number, source: string): Float32Array | undefined {
  if (!file.tensors.has(LOSS_SCALE_TENSOR)) return undefined;
  const state = getTensor(file, LOSS_SCALE_TENSOR, [4], source).data;
  const where = `${source}: tensor "${LOSS_SCALE_TENSOR}"`;
  if (!state.every(Number.isFinite) || !(state[0]! >= 1)) throw new Error(`${where} holds [${state}]; expected a finite loss scale >= 1 first`);
  const skipped = state[3]!;
  if (!Number.isInteger(skipped) || skipped < 0 || skipped > step) throw new Error(`${where} counts ${skipped} skipped steps; expected an integer from 0 to the checkpoint's step ${step}`);
  return state;
}

/** Restores a checkpoint's state (from savedLossScale) into a trainer's; returns the run's skipped steps. */
export function restoreLossScale(device: GPUDevice, scale: Tensor | undefined, saved: Float32Array | undefined): number {
  if (!scale || !saved) return 0;
  upload(device, scale, saved);
  return saved[3]!;
}
