// A filmstrip on the GPU: frames of (N, S, S) RGBA8 pixels in one buffer, written by the pixels
// kernel as a chain runs, so previews and the per-step filmstrip never read floats back and cost
// one small readback each (N*S*S*4 bytes per frame).
import { recordDispatches, submitDispatches, type Dispatch } from '../gpu/kernel';
import { createTensor, readTensors, type Tensor } from '../gpu/tensor';
import { toRgba8 } from '../kernels/pixels';

export class PixelFilm {
  readonly buffer: Tensor;
  readonly framePixels: number;

  constructor(private readonly device: GPUDevice, readonly frames: number, readonly count: number, readonly size: number, label: string) {
    this.framePixels = count * size * size;
    this.buffer = createTensor(device, [frames * this.framePixels], label);
  }

  /** Records images x (count, C, size, size) into frame k. */
  encode(encoder: GPUCommandEncoder, x: Tensor, k: number): void {
    if (k < 0 || k >= this.frames) throw new Error(`${this.buffer.label}: frame ${k} outside 0..${this.frames - 1}`);
    const pass = encoder.beginComputePass({ label: `${this.buffer.label} frame ${k}` });
    recordDispatches(pass, [this.dispatch(x, k)]);
    pass.end();
  }

  /** Submits frame k's conversion on its own (outside a chain). */
  render(x: Tensor, k: number): void {
    submitDispatches(this.device, [this.dispatch(x, k)]);
  }

  private dispatch(x: Tensor, k: number): Dispatch {
    return toRgba8(this.device, { x, out: this.buffer, offset: k * this.framePixels, label: `${this.buffer.label}.frame${k}` });
  }

  /** RGBA bytes of frames [first, first + n). */
  async read(first: number, n: number): Promise<Uint8Array> {
    const range: Tensor = { buffer: this.buffer.buffer, offset: this.buffer.offset + first * this.framePixels * 4, shape: [n * this.framePixels], label: `${this.buffer.label}[${first}..${first + n})` };
    const [words] = await readTensors(this.device, [range]);
    return new Uint8Array(words!.buffer, words!.byteOffset, words!.byteLength);
  }

  destroy(): void {
    this.buffer.buffer.destroy();
  }
}
