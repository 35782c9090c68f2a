// Uniform blocks packed by field name from the WGSL struct itself: a launcher names every field
// (`{ batch: B, cin: Ci, ... }`), and the words are laid out in the order the shader declares them,
// u32 and i32 as integers, f32 as their bits. A field the struct lacks, a field left out, or a
// non-integer where the struct says u32 is an error naming the shader and the struct, at plan time:
// the contract is the .wgsl file, not a list of numbers in the right order.
import type { KernelSource } from './kernel';

export type UniformValues = Readonly<Record<string, number>>;

export interface UniformField {
  name: string;
  type: 'u32' | 'i32' | 'f32';
}

const layouts = new Map<string, UniformField[]>();

/** The fields of `struct` in `shader`'s code, in declaration order (scalar u32/i32/f32 fields only). */
export function structFields(shader: KernelSource, struct: string): UniformField[] {
  const key = `${shader.name}:${struct}`;
  let fields = layouts.get(key);
  if (!fields) {
    const code = shader.code.replace(/\/\/[^\n]*/g, '');
    const m = new RegExp(`struct\\s+${struct}\\s*\\{([^}]*)\\}`).exec(code);
    if (!m) throw new Error(`${shader.name}.wgsl: no struct ${struct}`);
    fields = m[1]!.split(',').map((s) => s.trim()).filter(Boolean).map((decl) => {
      const [name, type] = decl.split(':').map((s) => s.trim()) as [string, string];
      if (type !== 'u32' && type !== 'i32' && type !== 'f32') throw new Error(`${shader.name}.wgsl ${struct}.${name}: type ${type} is not a u32, i32 or f32 scalar`);
      return { name, type };
    });
    layouts.set(key, fields);
  }
  return fields;
}

const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);

/** The words of `struct` with these named values. */
export function packUniforms(shader: KernelSource, struct: string, values: UniformValues): number[] {
  const fields = structFields(shader, struct);
  const where = `${shader.name}.wgsl ${struct}`;
  for (const name of Object.keys(values)) {
    if (!fields.some((f) => f.name === name)) throw new Error(`${where}: no field "${name}" (fields: ${fields.map((f) => f.name).join(', ')})`);
  }
  return fields.map((f) => {
    const v = values[f.name];
    if (v === undefined) throw new Error(`${where}: field "${f.name}" not given`);
    if (f.type === 'f32') {
      f32View[0] = v;
      return u32View[0]!;
    }
    const ok = Number.isInteger(v) && (f.type === 'u32' ? v >= 0 && v <= 0xffffffff : v >= -(2 ** 31) && v < 2 ** 31);
    if (!ok) throw new Error(`${where}: field "${f.name}" is ${f.type}, got ${v}`);
    return v >>> 0;
  });
}
