// Host-side tensors: row-major f32 data with a shape, a file's named tensors with their metadata, and
// the checks every loader applies to weights. A leaf module: it imports nothing of the project, so
// io, nn, diffusion, the CPU references and the GPU launchers can all depend on it.

/** A host tensor: row-major f32 data with its shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  /** Tensors in file header order. */
  tensors: Map<string, HostTensor>;
  /** Original dtype per tensor ("F32", "I64", ...). */
  dtypes: Map<string, string>;
  /** `__metadata__` (empty object when absent). */
  metadata: Record<string, string>;
}

/** Number of elements of a tensor with this shape (1 for a scalar `[]`). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Throws `${source}: tensor "name" holds NaN at index i` for the first non-finite value of a weight. */
export function expectFinite(t: HostTensor, name: string, source: string): void {
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i]!;
    if (!Number.isFinite(v)) throw new Error(`${source}: tensor "${name}" holds ${v} at index ${i}; weights must be finite`);
  }
}
