// Named tensors packed into one flat GPU buffer (parameters, their gradients, Adam moments, EMA):
// every tensor is a 256-byte-aligned view, so whole-model updates are single dispatches and the
// same layout serves every buffer of a model.
import { expectFinite, type HostTensor, type SafetensorsFile } from '../host/tensor';
import { alignFloats, createTensor, numel, readTensor, upload, viewTensor, type Tensor } from '../gpu/tensor';
import type { ParamSpec } from './architecture';

export interface ParamLayout {
  specs: readonly ParamSpec[];
  /** Float offset of each tensor in the flat buffer, by name. */
  offsets: ReadonlyMap<string, number>;
  /** Floats in the flat buffer, padding included. */
  totalFloats: number;
  /** Real parameters (no padding). */
  count: number;
}

export function paramLayout(specs: readonly ParamSpec[]): ParamLayout {
  const offsets = new Map<string, number>();
  let total = 0;
  let count = 0;
  for (const s of specs) {
    offsets.set(s.name, total);
    total += alignFloats(numel(s.shape));
    count += numel(s.shape);
  }
  return { specs, offsets, totalFloats: total, count };
}

/**
 * The flat host image of a layout from a file's named tensors (prefix selects e.g. "models.250."),
 * validating every name, shape and value (finite) first: what any loader checks before a byte
 * reaches the GPU.
 */
export function packParameters(layout: ParamLayout, file: SafetensorsFile, source: string, prefix = ''): Float32Array {
  const expected = new Set(layout.specs.map((s) => prefix + s.name));
  for (const name of file.tensors.keys()) {
    if (name.startsWith(prefix) && !expected.has(name)) throw new Error(`${source}: unexpected tensor "${name}" (not a parameter of this model)`);
  }
  const flat = new Float32Array(layout.totalFloats);
  for (const s of layout.specs) {
    const t = file.tensors.get(prefix + s.name);
    if (!t) throw new Error(`${source}: missing tensor "${prefix + s.name}" (shape [${s.shape}])`);
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new Error(`${source}: tensor "${prefix + s.name}" has shape [${t.shape}], model expects [${s.shape}]`);
    }
    expectFinite(t, prefix + s.name, source);
    flat.set(t.data, layout.offsets.get(s.name)!);
  }
  return flat;
}

export class ParamStore {
  /** The flat buffer, shape [totalFloats]. */
  readonly flat: Tensor;
  private readonly views = new Map<string, Tensor>();

  /**
   * Allocates the flat buffer, or with `within` lays it at a float offset of a larger buffer (several
   * models' parameters in one buffer: the layered model's sub-models share one Adam, clip and EMA).
   */
  constructor(readonly device: GPUDevice, readonly layout: ParamLayout, readonly label: string, within?: { base: Tensor; floatOffset: number }) {
    const limit = device.limits.maxStorageBufferBindingSize;
    if (layout.totalFloats * 4 > limit) {
      throw new Error(`${label}: ${layout.totalFloats * 4} bytes of parameters exceed this adapter's maxStorageBufferBindingSize (${limit})`);
    }
    this.flat = within ? viewTensor(within.base, within.floatOffset, [layout.totalFloats], label) : createTensor(device, [layout.totalFloats], label);
    for (const s of layout.specs) this.views.set(s.name, viewTensor(this.flat, layout.offsets.get(s.name)!, s.shape, `${label}:${s.name}`));
  }

  get(name: string): Tensor {
    const t = this.views.get(name);
    if (!t) throw new Error(`${this.label}: no parameter "${name}"`);
    return t;
  }

  /** Host image of the flat buffer from named tensors (prefix selects e.g. "models.250."). */
  pack(file: SafetensorsFile, source: string, prefix = ''): Float32Array {
    return packParameters(this.layout, file, source, prefix);
  }

  /** Uploads named tensors; validates every name and shape before writing anything. */
  load(file: SafetensorsFile, source: string, prefix = ''): void {
    upload(this.device, this.flat, this.pack(file, source, prefix));
  }

  /** Reads every tensor back (one copy of the flat buffer). */
  async read(): Promise<Map<string, HostTensor>> {
    const flat = await readTensor(this.device, this.flat);
    const out = new Map<string, HostTensor>();
    for (const s of this.layout.specs) {
      const o = this.layout.offsets.get(s.name)!;
      out.set(s.name, { shape: [...s.shape], data: flat.slice(o, o + numel(s.shape)) });
    }
    return out;
  }
}
