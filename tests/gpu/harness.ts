// GPU test harness: one Dawn device per test process (SwiftShader here), host<->GPU tensor moves,
// and dispatch runs inside error scopes so a validation error fails the test with the kernel's name.
// The test files of a worker share its module state (vite.config.ts: isolate false), so the device
// and its compiled pipelines serve every file that runs there: SwiftShader compiles a pipeline in
// about a second, and most files would otherwise compile the same UNet's again.
import { beforeAll } from 'vitest';
import type { HostTensor } from '../../src/host/tensor';
import { acquireNodeDevice } from '../../src/gpu/node';
import { submitDispatches, withErrorScopes, type Dispatch } from '../../src/gpu/kernel';
import { alignFloats, createTensor, createTensorFrom, readTensors, upload, viewTensor, type Tensor } from '../../src/gpu/tensor';
import { forceGemmTile, GEMM_TILES } from '../../src/kernels/gemm';
import type { Tier } from '../../src/gpu/tier';

export interface GpuFixture {
  device: GPUDevice;
  adapterName: string;
  tier: Tier;
}

const shared = new Map<Tier, Promise<GpuFixture>>();

/** The worker's device of precision tier `tier` (fp32: the one every file shares), acquired once. */
export function gpuOfTier(tier: Tier): Promise<GpuFixture> {
  let fx = shared.get(tier);
  if (!fx) {
    fx = acquireNodeDevice({ precision: tier });
    shared.set(tier, fx);
  }
  return fx;
}

/** Call at the top of a test file: the returned object's fields are filled in beforeAll. */
export function useGpu(tier: Tier = 'fp32'): GpuFixture {
  const fx = {} as GpuFixture;
  beforeAll(async () => {
    const { device, adapterName } = await gpuOfTier(tier);
    Object.assign(fx, { device, adapterName, tier });
  });
  return fx;
}

export function toGpu(device: GPUDevice, t: HostTensor, label = 'input'): Tensor {
  return createTensorFrom(device, t.shape, t.data, label);
}

export function gpuZeros(device: GPUDevice, shape: readonly number[], label = 'output'): Tensor {
  return createTensor(device, shape, label);
}

/** Host tensors as aligned views of one GPU buffer, in order (as the flat parameters hold them). */
export function packOnGpu(device: GPUDevice, parts: readonly HostTensor[], label = 'packed'): Tensor[] {
  const offsets: number[] = [];
  let total = 0;
  for (const t of parts) {
    offsets.push(total);
    total += alignFloats(t.data.length);
  }
  const flat = createTensor(device, [total], label);
  return parts.map((t, i) => {
    const v = viewTensor(flat, offsets[i]!, t.shape, `${label}[${i}]`);
    upload(device, v, t.data);
    return v;
  });
}

/** Runs the dispatches (one submit) and reads `outputs` back. */
export async function run(device: GPUDevice, dispatches: readonly Dispatch[], outputs: readonly Tensor[]): Promise<Float32Array[]> {
  const what = dispatches.map((d) => d.label).join(', ');
  await withErrorScopes(device, what, () => submitDispatches(device, dispatches, 'test'));
  return withErrorScopes(device, `readback after ${what}`, () => readTensors(device, outputs));
}

/** Runs `fn` with every GEMM it plans on `device` forced to the tile named `tile` ("32x32"). */
export async function withGemmTile<T>(device: GPUDevice, tile: string, fn: () => Promise<T>): Promise<T> {
  const t = GEMM_TILES[tile];
  if (!t) throw new Error(`no GEMM tile ${tile}`);
  forceGemmTile(device, t);
  try {
    return await fn();
  } finally {
    forceGemmTile(device, undefined);
  }
}

/** Deterministic pseudo-random host tensor in [-scale, scale) (xorshift; tests need no GPU RNG). */
export function randomTensor(shape: readonly number[], seed: number, scale = 1): HostTensor {
  let s = (seed * 2654435761) >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    data[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return { shape: [...shape], data };
}

// Per-op tolerances of shared/reference/README.md (the contract), reused for GPU vs CPU reference.
export const FWD = { atol: 1e-5, rtol: 1e-4 } as const;
export const BWD = { atol: 1e-4, rtol: 1e-3 } as const;

/** Asserts max |got - ref| <= tol * max(1, max |ref|) (the whole-model contract), reporting the worst index. */
export function expectMaxAbs(got: Float32Array, ref: Float32Array, tol: number, what: string): void {
  if (got.length !== ref.length) throw new Error(`${what}: got ${got.length} values, reference has ${ref.length}`);
  let scale = 1;
  for (const r of ref) scale = Math.max(scale, Math.abs(r));
  let worst = 0;
  let at = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i]! - ref[i]!);
    if (!(e <= worst)) { worst = e; at = i; }
  }
  if (!(worst <= tol * scale)) {
    throw new Error(`${what}: max |got - ref| = ${worst.toExponential(3)} at [${at}] (got ${got[at]}, ref ${ref[at]}) exceeds ${tol} * ${scale.toFixed(3)}`);
  }
}
