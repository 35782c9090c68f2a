// A tensor on the GPU: a byte range of a storage buffer plus its shape.
// Many tensors may share one buffer (all parameters live in one flat buffer so that
// grad-norm, Adam and EMA are single dispatches); offsets are 256-byte aligned
// because storage bindings must start at minStorageBufferOffsetAlignment.
import { allocateBuffer, isPlaceholder, limitExceeded } from './owner';
import { unpackF16Pairs } from '../host/f16';

/** How a tensor's elements are stored: f32, or f16 values packed two to a u32 word (element 2i in
 *  word i's low half). f16 holds activations that only a reduced tier's GEMMs read, which round their
 *  operands to f16 anyway (nn/unet.ts); a launcher binds one only where its shader reads f16 pairs
 *  (kernel.ts DispatchSpec.packedF16). */
export type TensorStorage = 'f32' | 'f16';

export interface Tensor {
  readonly buffer: GPUBuffer;
  /** Byte offset inside `buffer`, a multiple of TENSOR_ALIGN_BYTES. */
  readonly offset: number;
  readonly shape: readonly number[];
  readonly label: string;
  /** Absent: f32. */
  readonly storage?: TensorStorage;
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

/** The u32 words of n elements stored as `storage`. */
function storedWords(n: number, storage: TensorStorage): number {
  return storage === 'f16' ? Math.ceil(n / 2) : n;
}

export function byteSize(t: Tensor): number {
  return storedWords(numel(t.shape), t.storage ?? 'f32') * 4;
}

/** Refuses a tensor stored as f16 where `what` reads or writes f32 values. */
function expectF32(t: Tensor, what: string): void {
  if (t.storage === 'f16') throw new Error(`${t.label}: stored as f16 pairs; ${what} takes f32 tensors only`);
}

export function alignFloats(n: number): number {
  return Math.ceil(n / TENSOR_ALIGN_FLOATS) * TENSOR_ALIGN_FLOATS;
}

/** Allocates a zero-filled tensor in its own buffer. */
export function createTensor(device: GPUDevice, shape: readonly number[], label: string, storage: TensorStorage = 'f32'): Tensor {
  const size = alignFloats(Math.max(storedWords(numel(shape), storage), 1)) * 4;
  // WebGPU reports an oversized buffer only as an asynchronous validation error; refuse up front.
  const limit = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
  if (size > limit) {
    limitExceeded(`${label}: tensor [${shape}] needs ${size} bytes, more than this adapter allows in one buffer (${limit} bytes); use a smaller batch or model`);
  }
  const buffer = allocateBuffer(device, { label, size, usage: STORAGE_USAGE });
  return { buffer, offset: 0, shape: [...shape], label, storage };
}

/** A view of `count`-element `shape` inside another tensor's buffer at `floatOffset` (aligned). */
export function viewTensor(base: Tensor, floatOffset: number, shape: readonly number[], label: string): Tensor {
  expectF32(base, 'a view');
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
  for (const t of parts) expectF32(t, `the span ${label}`);
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
  expectF32(t, 'upload');
  if (isPlaceholder(t.buffer)) return; // constants a launcher writes while a dry run plans
  device.queue.writeBuffer(t.buffer, t.offset, data.buffer, data.byteOffset, data.byteLength);
}

export function createTensorFrom(device: GPUDevice, shape: readonly number[], data: Float32Array, label: string): Tensor {
  const t = createTensor(device, shape, label);
  upload(device, t, data);
  return t;
}

/** Copies tensors back to the host (one submit for all of them), f16 ones widened to f32. Never call
 *  inside a sampling/training loop. */
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
      const t = tensors[i]!;
      const bytes = buf.getMappedRange().slice(0, byteSize(t));
      const data = t.storage === 'f16' ? unpackF16Pairs(new Uint32Array(bytes), numel(t.shape)) : new Float32Array(bytes);
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
