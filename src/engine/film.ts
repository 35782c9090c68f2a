// A filmstrip on the GPU: frames of (N, S, S) RGBA8 pixels in one buffer, written by the pixels
// kernel as a chain runs, so previews and the per-step filmstrip never read floats back and cost
// one small readback each (N*S*S*4 bytes per frame).
import { recordDispatches, type Dispatch } from '../gpu/kernel';
import { GpuOwner } from '../gpu/owner';
import { createTensor, readTensors, type Tensor } from '../gpu/tensor';
import { toRgba8 } from '../kernels/pixels';

export class PixelFilm {
  readonly buffer: Tensor;
  readonly framePixels: number;
  /** The film's buffer and the conversion dispatches (one per source tensor and frame, made once). */
  private readonly owner: GpuOwner;
  private readonly dispatches = new Map<Tensor, Dispatch[]>();

  constructor(private readonly device: GPUDevice, readonly frames: number, readonly count: number, readonly size: number, label: string) {
    this.framePixels = count * size * size;
    this.owner = new GpuOwner(label);
    this.buffer = this.owner.run(() => createTensor(device, [frames * this.framePixels], label));
  }

  /** Records images x (count, C, size, size) into frame k. */
  encode(encoder: GPUCommandEncoder, x: Tensor, k: number): void {
    if (k < 0 || k >= this.frames) throw new Error(`${this.buffer.label}: frame ${k} outside 0..${this.frames - 1}`);
    const pass = encoder.beginComputePass({ label: `${this.buffer.label} frame ${k}` });
    recordDispatches(pass, [this.dispatch(x, k)]);
    pass.end();
  }

  private dispatch(x: Tensor, k: number): Dispatch {
    let perFrame = this.dispatches.get(x);
    if (!perFrame) this.dispatches.set(x, (perFrame = []));
    perFrame[k] ??= this.owner.run(() => toRgba8(this.device, { x, out: this.buffer, offset: k * this.framePixels, label: `${this.buffer.label}.frame${k}` }));
    return perFrame[k];
  }

  /** RGBA bytes of frames [first, first + n). */
  async read(first: number, n: number): Promise<Uint8Array> {
    const range: Tensor = { buffer: this.buffer.buffer, offset: this.buffer.offset + first * this.framePixels * 4, shape: [n * this.framePixels], label: `${this.buffer.label}[${first}..${first + n})` };
    const [words] = await readTensors(this.device, [range]);
    return new Uint8Array(words!.buffer, words!.byteOffset, words!.byteLength);
  }

  destroy(): void {
    this.owner.destroy();
    this.dispatches.clear();
  }
}
