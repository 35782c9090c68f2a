// Kernel plumbing shared by every launcher in src/kernels/: a pipeline cache per
// device, explicit bind group layouts (binding i = i-th entry of the launcher's list),
// a small uniform block per dispatch, and recording of prepared dispatches.
//
// A Dispatch is built once (at plan time, when shapes are known) and recorded many
// times: a model's forward pass is a list of Dispatches replayed into one encoder.
import { allocateBuffer, limitExceeded, planningDry, sharedOutsideOwners, uncountedPlaceholder } from './owner';
import { binding, byteSize, type Tensor } from './tensor';
import { packUniforms, type UniformValues } from './uniforms';
import commonCode from '../../shaders/common.wgsl?raw';

export type Access = 'read' | 'write';

export interface KernelSource {
  /** Shader family name, used in labels: "conv2d". */
  readonly name: string;
  readonly code: string;
  /** Shared device code the family builds on, appended to `code` (kernels/gemm.ts: the GEMM microkernel). */
  readonly library?: KernelLibrary;
  /** Declarations a launcher picks per dispatch, appended after the library, and their name in the
   *  module cache (kernels/conv2d.ts: its input x as f32, or as f16 pairs). */
  readonly declarations?: { key: string; code: string };
}

/** Device code several families build on, in the form the device's precision tier asks for. */
export interface KernelLibrary {
  readonly code: string;
  /** What the device's tier adds: `enable` directives (first in the module; they shift a compiler
   *  message's line numbers by as many lines), the declarations appended after the code (the GEMM's
   *  backend for that tier), and the variant's name in the module and pipeline caches ('' for the
   *  plain one). */
  variant(device: GPUDevice): { key: string; enables: string; declarations: string };
}

export interface Dispatch {
  readonly label: string;
  /** The entry point it runs, "conv2d.backward": what the profile groups by. */
  readonly kernel: string;
  /** Floating-point operations of one run where known (GEMMs: 2 M N K), else 0. */
  readonly flops: number;
  /** Bytes of the tensors it writes (whole bindings): what a fusion saves shows here. */
  readonly bytesWritten: number;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

export interface DispatchSpec {
  shader: KernelSource;
  entry: string;
  /** WGSL `override` constants (workgroup sizes, modes): baked into the pipeline. */
  constants?: Record<string, number>;
  /** The uniform block by field name (gpu/uniforms.ts packs it from the WGSL struct): bound at
   *  @binding(0) when present. */
  uniforms?: UniformValues;
  /** The WGSL struct of the uniform block (default "Params"). */
  uniformStruct?: string;
  /** Storage bindings, in binding order after the uniform block. */
  tensors: readonly (readonly [Tensor, Access])[];
  /** Indices into `tensors` of the bindings the entry point reads or writes as f16 pairs (u32 words):
   *  a tensor stored as f16 anywhere else is refused, by name. */
  packedF16?: readonly number[];
  workgroups: readonly [number, number, number];
  /** What this dispatch is in the model ("down.0.block.0.conv1"): shows up in validation errors. */
  label: string;
  /** Floating-point operations of one run, where the launcher knows them (for the profile's GFLOP/s). */
  flops?: number;
}

const UNIFORM_USAGE = 0x40 /* UNIFORM */ | 0x8; /* COPY_DST */

interface DeviceCache {
  modules: Map<string, GPUShaderModule>;
  layouts: Map<string, GPUBindGroupLayout>;
  pipelines: Map<string, GPUComputePipeline>;
}
const caches = new WeakMap<GPUDevice, DeviceCache>();

function cacheOf(device: GPUDevice): DeviceCache {
  let c = caches.get(device);
  if (!c) {
    c = { modules: new Map(), layouts: new Map(), pipelines: new Map() };
    caches.set(device, c);
  }
  return c;
}

function layoutKey(hasUniforms: boolean, access: readonly Access[]): string {
  return (hasUniforms ? 'u' : '') + access.map((a) => (a === 'read' ? 'r' : 'w')).join('');
}

function bindGroupLayout(device: GPUDevice, key: string): GPUBindGroupLayout {
  const c = cacheOf(device);
  let layout = c.layouts.get(key);
  if (!layout) {
    const entries: GPUBindGroupLayoutEntry[] = [...key].map((k, i) => ({
      binding: i,
      visibility: 0x4 /* GPUShaderStage.COMPUTE */,
      buffer: { type: k === 'u' ? 'uniform' : k === 'r' ? 'read-only-storage' : 'storage' },
    }));
    layout = device.createBindGroupLayout({ label: `layout.${key}`, entries });
    c.layouts.set(key, layout);
  }
  return layout;
}

type LibraryVariant = ReturnType<KernelLibrary['variant']>;
const PLAIN: LibraryVariant = { key: '', enables: '', declarations: '' };

/** The WGSL of a family's module: the variant's enables, the family, its library, the variant's and
 *  the launcher's declarations, then common.wgsl. */
export function moduleCode(shader: KernelSource, variant: LibraryVariant = PLAIN): string {
  const enables = variant.enables ? `${variant.enables}\n` : '';
  return `${enables}${shader.code}\n${shader.library?.code ?? ''}\n${variant.declarations}\n${shader.declarations?.code ?? ''}\n${commonCode}`;
}

export function getPipeline(
  device: GPUDevice,
  shader: KernelSource,
  entry: string,
  constants: Record<string, number>,
  layoutKeyStr: string,
): GPUComputePipeline {
  const c = cacheOf(device);
  const constKey = Object.keys(constants)
    .sort()
    .map((k) => `${k}=${constants[k]}`)
    .join(',');
  const variant = shader.library?.variant(device) ?? PLAIN;
  const parts = [shader.name, shader.declarations?.key && `decl:${shader.declarations.key}`, variant.key && `tier:${variant.key}`];
  const moduleKey = parts.filter(Boolean).join('/');
  const key = `${moduleKey}:${entry}:${constKey}:${layoutKeyStr}`;
  let pipeline = c.pipelines.get(key);
  if (!pipeline) {
    let module = c.modules.get(moduleKey);
    if (!module) {
      module = device.createShaderModule({ label: `${moduleKey}.wgsl`, code: moduleCode(shader, variant) });
      c.modules.set(moduleKey, module);
    }
    pipeline = device.createComputePipeline({
      label: `${shader.name}.${entry}.pipeline`,
      layout: device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout(device, layoutKeyStr)] }),
      compute: { module, entryPoint: entry, constants },
    });
    c.pipelines.set(key, pipeline);
  }
  return pipeline;
}

/** Stands for the pipeline and bind group of a dispatch planned in a dry run (never recorded). */
const DRY_RUN = { label: 'dry run' };

export function makeDispatch(device: GPUDevice, spec: DispatchSpec): Dispatch {
  const packed = spec.uniforms ? packUniforms(spec.shader, spec.uniformStruct ?? 'Params', spec.uniforms) : [];
  const hasUniforms = packed.length > 0;
  const label = `${spec.label} (${spec.shader.name}.${spec.entry})`;
  for (const n of spec.workgroups) {
    if (n > device.limits.maxComputeWorkgroupsPerDimension) {
      limitExceeded(`${label}: ${n} workgroups exceed maxComputeWorkgroupsPerDimension (${device.limits.maxComputeWorkgroupsPerDimension}); use a smaller batch or model`);
    }
  }
  spec.tensors.forEach(([t], i) => {
    if ((t.storage === 'f16') !== (spec.packedF16 ?? []).includes(i)) {
      throw new Error(`${label}: binding ${hasUniforms ? i + 1 : i} (${t.label}) is ${t.storage === 'f16' ? 'stored as f16 pairs, which this entry point reads as f32' : 'f32, where this entry point reads f16 pairs'}`);
    }
  });
  const bytesWritten = spec.tensors.reduce((sum, [t, access]) => sum + (access === 'write' ? byteSize(t) : 0), 0);
  const common = { label, kernel: `${spec.shader.name}.${spec.entry}`, flops: spec.flops ?? 0, bytesWritten, workgroups: spec.workgroups };
  const words = hasUniforms ? new Uint32Array(Math.max(4, Math.ceil(packed.length / 4) * 4)) : undefined;
  const uniforms = words ? allocateBuffer(device, { label: `${label}.uniforms`, size: words.byteLength, usage: UNIFORM_USAGE }) : undefined;
  if (planningDry()) {
    return { ...common, pipeline: DRY_RUN as unknown as GPUComputePipeline, bindGroup: DRY_RUN as unknown as GPUBindGroup };
  }
  const key = layoutKey(hasUniforms, spec.tensors.map(([, a]) => a));
  const pipeline = getPipeline(device, spec.shader, spec.entry, spec.constants ?? {}, key);
  const entries: GPUBindGroupEntry[] = [];
  if (words && uniforms) {
    words.set(packed);
    device.queue.writeBuffer(uniforms, 0, words);
    entries.push({ binding: 0, resource: { buffer: uniforms } });
  }
  spec.tensors.forEach(([t]) => entries.push({ binding: entries.length, resource: binding(t) }));
  const bindGroup = device.createBindGroup({ label: `${label}.bindgroup`, layout: bindGroupLayout(device, key), entries });
  return { ...common, pipeline, bindGroup };
}

/** Splits `n` workgroups over x and y so that neither exceeds the per-dimension limit; shaders
 *  recover the flat index as `wid.x + wid.y * nwg.x`. */
export function grid(n: number, limit = 65535): [number, number, number] {
  if (n <= limit) return [Math.max(n, 1), 1, 1];
  const y = Math.ceil(n / limit);
  return [Math.ceil(n / y), y, 1];
}

export function recordDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
}

/** Records dispatches into one compute pass of a new encoder and submits it. */
export function submitDispatches(device: GPUDevice, dispatches: readonly Dispatch[], label = 'dispatches'): void {
  const encoder = device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label });
  recordDispatches(pass, dispatches);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

/**
 * Runs `fn` inside validation and out-of-memory error scopes and throws what they caught,
 * naming `what` (a kernel or a model step). Used by tests and debug runs.
 */
export async function withErrorScopes<T>(device: GPUDevice, what: string, fn: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = await fn();
  } finally {
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    const err = validation ?? oom;
    if (err) throw new Error(`${what}: WebGPU ${validation ? 'validation' : 'out-of-memory'} error: ${err.message}`);
  }
  return result;
}

const placeholders = { read: new WeakMap<GPUDevice, Tensor>(), write: new WeakMap<GPUDevice, Tensor>() };

/** Outputs one dispatch may leave unwritten, each in a sink of its own (writable bindings may not
 *  overlap), 256 bytes apart (the storage offset alignment WebGPU guarantees). */
export const PLACEHOLDER_SINKS = 4;
const SINK_STRIDE = 256;

/** The read placeholder (16 bytes), or the sinks' buffer (PLACEHOLDER_SINKS slots); 16 bytes seen. */
function sharedPlaceholder(device: GPUDevice, kind: 'read' | 'write'): Tensor {
  const label = kind === 'read' ? 'placeholder' : 'placeholder sink';
  const size = kind === 'read' ? 16 : PLACEHOLDER_SINKS * SINK_STRIDE;
  let t = placeholders[kind].get(device);
  if (!t) {
    const buffer = sharedOutsideOwners(() => device.createBuffer({ label, size, usage: 0x80 /* STORAGE */ }));
    if (!buffer) return { buffer: uncountedPlaceholder(size, label), offset: 0, shape: [4], label };
    t = { buffer, offset: 0, shape: [4], label };
    placeholders[kind].set(device, t);
  }
  return t;
}

/** A 16-byte zero tensor bound where an entry point declares an input that this dispatch does not read. */
export function placeholder(device: GPUDevice): Tensor {
  return sharedPlaceholder(device, 'read');
}

/** A 16-byte tensor bound where an entry point declares an output that this dispatch does not write
 *  (its own buffer: a writable binding may not alias the read placeholder). A dispatch that leaves
 *  several outputs unwritten gives each its own `slot` (< PLACEHOLDER_SINKS). */
export function placeholderSink(device: GPUDevice, slot = 0): Tensor {
  if (!(Number.isInteger(slot) && slot >= 0 && slot < PLACEHOLDER_SINKS)) throw new Error(`placeholder sink slot ${slot}: expected 0 to ${PLACEHOLDER_SINKS - 1}`);
  const sinks = sharedPlaceholder(device, 'write');
  return { ...sinks, offset: slot * SINK_STRIDE };
}
