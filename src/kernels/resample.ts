// Launcher for shaders/resample.wgsl: nearest 2x upsample and 2x2 average pool, forward and backward.
import code from '../../shaders/resample.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import { numel, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'resample', code };
const WG = 256;
const FLAG_ACC = 1;

/** One resample dispatch; `low` is the (B, C, h, w) side, `high` the (B, C, 2h, 2w) one. */
function resample(
  device: GPUDevice, entry: 'expand2x2' | 'reduce2x2', low: Tensor, high: Tensor,
  scale: number, accumulate: boolean | undefined, label: string,
): Dispatch {
  if (low.shape.length !== 4) throw new Error(`${label}: tensor "${low.label}" has shape [${low.shape}], expected (B, C, H, W)`);
  const [B, C, h, w] = low.shape as [number, number, number, number];
  expectShape(high, [B, C, 2 * h, 2 * w], label);
  const [src, out] = entry === 'expand2x2' ? [low, high] : [high, low];
  const n = numel(out.shape);
  return makeDispatch(device, {
    shader, entry, label,
    uniforms: { n, h, w, flags: accumulate ? FLAG_ACC : 0, scale },
    tensors: [[src, 'read'], [out, 'write']],
    workgroups: grid(Math.ceil(n / WG)),
  });
}

/** y (B, C, 2H, 2W) = nearest-neighbour upsample of x (B, C, H, W). */
export function upsampleForward(device: GPUDevice, a: { x: Tensor; y: Tensor; label: string }): Dispatch {
  return resample(device, 'expand2x2', a.x, a.y, 1, false, a.label);
}

/** dx (B, C, H, W) = (+= with `accumulate`) the sum of each 2x2 block of dy (B, C, 2H, 2W). */
export function upsampleBackward(device: GPUDevice, a: { dy: Tensor; dx: Tensor; accumulate: boolean; label: string }): Dispatch {
  return resample(device, 'reduce2x2', a.dx, a.dy, 1, a.accumulate, `${a.label}.dx`);
}

/** y (B, C, H/2, W/2) = mean of each 2x2 block of x (B, C, H, W); H and W even. */
export function avgPoolForward(device: GPUDevice, a: { x: Tensor; y: Tensor; label: string }): Dispatch {
  return resample(device, 'reduce2x2', a.y, a.x, 0.25, false, a.label);
}

/** dx (B, C, H, W) = (+= with `accumulate`) dy / 4 of the output each pixel fed. */
export function avgPoolBackward(device: GPUDevice, a: { dy: Tensor; dx: Tensor; accumulate: boolean; label: string }): Dispatch {
  return resample(device, 'expand2x2', a.dy, a.dx, 0.25, a.accumulate, `${a.label}.dx`);
}
