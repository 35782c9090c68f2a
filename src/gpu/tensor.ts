// A tensor on the GPU: a byte range of a storage buffer plus its shape.
// Many tensors may share one buffer (all parameters live in one flat buffer so that
// grad-norm, Adam and EMA are single dispatches); offsets are 256-byte aligned
// because storage bindings must start at minStorageBufferOffsetAlignment.
import { allocateBuffer, isPlaceholder, limitExceeded } from './owner';

export interface Tensor {
  readonly buffer: GPUBuffer;
  /** Byte offset inside `buffer`, a multiple of TENSOR_ALIGN_BYTES. */
  readonly offset: number;
  readonly shape: readonly number[];
  readonly label: string;
}

export const TENSOR_ALIGN_BYTES = 256;
export const TENSOR_ALIGN_FLOATS = TENSOR_ALIGN_BYTES / 4;

// Literal flags: in Node, GPUBufferUsage/GPUMapMode exist only once `webgpu` has loaded.
export const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */
const MAP_READ_USAGE = 0x1 /* MAP_READ */ | 0x8; /* COPY_DST */
const MAP_MODE_READ = 0x1;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function byteSize(t: Tensor): number {
  return numel(t.shape) * 4;
}

export function alignFloats(n: number): number {
  return Math.ceil(n / TENSOR_ALIGN_FLOATS) * TENSOR_ALIGN_FLOATS;
}

/** Allocates a zero-filled tensor in its own buffer. */
export function createTensor(device: GPUDevice, shape: readonly number[], label: string): Tensor {
  const size = alignFloats(Math.max(numel(shape), 1)) * 4;
  // WebGPU reports an oversized buffer only as an asynchronous validation error; refuse up front.
  const limit = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
  if (size > limit) {
    limitExceeded(`${label}: tensor [${shape}] needs ${size} bytes, more than this adapter allows in one buffer (${limit} bytes); use a smaller batch or model`);
  }
  const buffer = allocateBuffer(device, { label, size, usage: STORAGE_USAGE });
  return { buffer, offset: 0, shape: [...shape], label };
}

/** A view of `count`-element `shape` inside another tensor's buffer at `floatOffset` (aligned). */
export function viewTensor(base: Tensor, floatOffset: number, shape: readonly number[], label: string): Tensor {
  const offset = base.offset + floatOffset * 4;
  if (offset % TENSOR_ALIGN_BYTES !== 0) throw new Error(`${label}: view offset ${offset} is not ${TENSOR_ALIGN_BYTES}-byte aligned`);
  return { buffer: base.buffer, offset, shape: [...shape], label };
}

/** One binding over tensors of one buffer (views of the flat parameters, of one activation): the
 *  range from the lowest tensor's first float to the highest one's last, and each tensor's float
 *  offset inside it. */
export function spanOf(parts: readonly Tensor[], label: string): { span: Tensor; offsets: number[] } {
  const first = parts[0];
  if (!first) throw new Error(`${label}: a span of no tensors`);
  const other = parts.find((t) => t.buffer !== first.buffer);
  if (other) throw new Error(`${label}: ${other.label} and ${first.label} must lie in one buffer to share a binding`);
  const start = Math.min(...parts.map((t) => t.offset));
  const end = Math.max(...parts.map((t) => t.offset + byteSize(t)));
  return { span: { buffer: first.buffer, offset: start, shape: [(end - start) / 4], label }, offsets: parts.map((t) => (t.offset - start) / 4) };
}

/** Same storage, another shape with the same element count (a reshape). */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  if (numel(shape) !== numel(t.shape)) {
    throw new Error(`${t.label}: cannot reshape [${t.shape}] to [${shape}]`);
  }
  return { ...t, shape: [...shape] };
}

export function binding(t: Tensor): GPUBufferBinding {
  return { buffer: t.buffer, offset: t.offset, size: byteSize(t) };
}

export function upload(device: GPUDevice, t: Tensor, data: Float32Array): void {
  if (data.length !== numel(t.shape)) {
    throw new Error(`${t.label}: upload of ${data.length} values into a tensor of shape [${t.shape}]`);
  }
  if (isPlaceholder(t.buffer)) return; // constants a launcher writes while a dry run plans
  device.queue.writeBuffer(t.buffer, t.offset, data.buffer, data.byteOffset, data.byteLength);
}

export function createTensorFrom(device: GPUDevice, shape: readonly number[], data: Float32Array, label: string): Tensor {
  const t = createTensor(device, shape, label);
  upload(device, t, data);
  return t;
}

/** Copies tensors back to the host (one submit for all of them). Never call inside a sampling/training loop. */
export async function readTensors(device: GPUDevice, tensors: readonly Tensor[]): Promise<Float32Array[]> {
  const encoder = device.createCommandEncoder({ label: 'readback' });
  const staging = tensors.map((t) => {
    const buf = device.createBuffer({ label: `${t.label}.staging`, size: Math.max(byteSize(t), 4), usage: MAP_READ_USAGE });
    if (byteSize(t) > 0) encoder.copyBufferToBuffer(t.buffer, t.offset, buf, 0, byteSize(t));
    return buf;
  });
  device.queue.submit([encoder.finish()]);
  const out = await Promise.all(
    staging.map(async (buf, i) => {
      await buf.mapAsync(MAP_MODE_READ);
      const data = new Float32Array(buf.getMappedRange().slice(0, byteSize(tensors[i]!)));
      buf.unmap();
      buf.destroy();
      return data;
    }),
  );
  return out;
}

export async function readTensor(device: GPUDevice, t: Tensor): Promise<Float32Array> {
  return (await readTensors(device, [t]))[0]!;
}
