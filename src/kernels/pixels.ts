// Launcher for shaders/pixels.wgsl: (N, C, H, W) images in [-1, 1] to RGBA8 pixels for previews.
import code from '../../shaders/pixels.wgsl?raw';
import { grid, makeDispatch, type Dispatch, type KernelSource } from '../gpu/kernel';
import { numel, type Tensor } from '../gpu/tensor';

const shader: KernelSource = { name: 'pixels', code };
const WG = 256;

export interface ToRgba8Args {
  x: Tensor;    // (N, C, H, W), C = 3 or 1
  /** Words (a u32 buffer viewed as a Tensor), one RGBA8 pixel each; the (N, H, W) image goes at `offset`. */
  out: Tensor;
  /** First pixel written (default 0): frame k of a filmstrip is at k * N * H * W. */
  offset?: number;
  label: string;
}

export function toRgba8(device: GPUDevice, a: ToRgba8Args): Dispatch {
  if (a.x.shape.length !== 4) throw new Error(`${a.label}: tensor "${a.x.label}" has shape [${a.x.shape}], expected (N, C, H, W)`);
  const [N, C, H, W] = a.x.shape as [number, number, number, number];
  if (C !== 1 && C !== 3) throw new Error(`${a.label}: images need 1 or 3 channels, "${a.x.label}" has ${C}`);
  const offset = a.offset ?? 0;
  if (numel(a.out.shape) < offset + N * H * W) throw new Error(`${a.label}: "${a.out.label}" holds ${numel(a.out.shape)} pixels, too few for ${N * H * W} at ${offset}`);
  return makeDispatch(device, {
    shader, entry: 'to_rgba8', label: a.label,
    uniforms: { pixels: N * H * W, channels: C, hw: H * W, offset },
    tensors: [[a.x, 'read'], [a.out, 'write']],
    workgroups: grid(Math.ceil((N * H * W) / WG)),
  });
}
