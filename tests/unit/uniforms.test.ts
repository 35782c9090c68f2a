// Uniform blocks are packed by field name from each shader's own struct: every uniform struct of every
// shader parses, and a missing, unknown or mistyped field is an error naming the shader.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { packUniforms, structFields } from '../../src/gpu/uniforms';

const dir = new URL('../../shaders/', import.meta.url);
const shaders = readdirSync(dir).filter((f) => f.endsWith('.wgsl')).map((f) => ({ name: f.replace('.wgsl', ''), code: readFileSync(new URL(f, dir), 'utf8') }));

describe('uniform blocks from the WGSL structs', () => {
  it('reads every uniform struct of every shader', () => {
    let count = 0;
    for (const s of shaders) {
      for (const m of s.code.matchAll(/var<uniform>\s+\w+\s*:\s*(\w+)/g)) {
        const fields = structFields(s, m[1]!);
        expect(fields.length, `${s.name} ${m[1]}`).toBeGreaterThan(0);
        count++;
      }
    }
    expect(count).toBeGreaterThanOrEqual(15);
    const conv = shaders.find((s) => s.name === 'conv2d')!;
    expect(structFields(conv, 'Params').map((f) => f.name)).toEqual(['batch', 'cin', 'h', 'w', 'cout', 'oh', 'ow', 'pad_t', 'pad_l', 'flags', 'k_chunk', 'splits',
      'groups', 'y_gstride', 'w_off', 'w_gstride', 'b_off', 'b_gstride', 'sc_cin', 'sc_w_off', 'sc_b_off', 'ca', 'sc_ca', 'input_tiles', 'weight_tiles', 'plane_groups', 'plane_gstride']);
  });

  it('packs by name in declaration order, floats as their bits, and names every mistake', () => {
    const reduce = shaders.find((s) => s.name === 'reduce')!;
    const rest = { flags: 1, growth_interval: 2000, groups: 2, out_stride: 64 };
    expect(packUniforms(reduce, 'Params', { ...rest, max_norm: 1, nparts: 3, n: 7 })).toEqual([7, 3, 0x3f800000, 1, 2000, 2, 64]);
    expect(() => packUniforms(reduce, 'Params', { ...rest, n: 7, nparts: 3 })).toThrow(/reduce\.wgsl Params: field "max_norm" not given/);
    expect(() => packUniforms(reduce, 'Params', { ...rest, n: 7, nparts: 3, max_norm: 1, maxnorm: 1 })).toThrow(/reduce\.wgsl Params: no field "maxnorm"/);
    expect(() => packUniforms(reduce, 'Params', { ...rest, n: -1, nparts: 3, max_norm: 1 })).toThrow(/reduce\.wgsl Params: field "n" is u32, got -1/);
    expect(() => packUniforms(reduce, 'Params', { ...rest, n: 1.5, nparts: 3, max_norm: 1 })).toThrow(/field "n" is u32, got 1\.5/);
    expect(() => structFields(reduce, 'Nope')).toThrow(/reduce\.wgsl: no struct Nope/);
  });
});
