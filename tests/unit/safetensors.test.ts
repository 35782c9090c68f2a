import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { getTensor, parseSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import { shapeSize, type HostTensor } from '../../src/host/tensor';
import { f16Bits, f16Round, f16Values } from '../../src/host/f16';

const REF = new URL('../../../shared/reference/', import.meta.url);
const readRef = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, REF)));

/** Builds a file by hand: `header` is JSON-stringified unless already a string, then padded with `pad` spaces. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), pad = 0): Uint8Array {
  const text = (typeof header === 'string' ? header : JSON.stringify(header)) + ' '.repeat(pad);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Little-endian bytes written by `write(view, i)` for `count` elements of `size` bytes. */
function bytesOf(count: number, size: number, write: (v: DataView, offset: number, i: number) => void): Uint8Array {
  const out = new Uint8Array(count * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) write(view, i * size, i);
  return out;
}

const u16 = (vals: number[]): Uint8Array => bytesOf(vals.length, 2, (v, o, i) => v.setUint16(o, vals[i], true));
const f32 = (vals: number[]): Uint8Array => bytesOf(vals.length, 4, (v, o, i) => v.setFloat32(o, vals[i], true));
const single = (dtype: string, shape: number[], data: Uint8Array): Uint8Array =>
  build({ x: { dtype, shape, data_offsets: [0, data.length] } }, data);

const t = (shape: number[], vals: number[]): HostTensor => ({ shape, data: Float32Array.from(vals) });

describe('serializeSafetensors / parseSafetensors round trip', () => {
  it('keeps names, order, shapes, values and metadata', () => {
    const tensors = new Map<string, HostTensor>([
      ['z.weight', t([2, 3], [1, -2, 3.5, 0, -0, 1e-30])],
      ['a.bias', t([3], [Infinity, -Infinity, 7])],
      ['scalar', t([], [42])],
      ['empty', t([0, 4], [])],
      ['nan', t([1, 1], [NaN])],
    ]);
    const meta = { model: '{"ch": 8}', format: 'test' };
    const bytes = serializeSafetensors(tensors, meta);
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);

    const file = parseSafetensors(bytes, 'rt.safetensors');
    expect([...file.tensors.keys()]).toEqual([...tensors.keys()]);
    expect(file.metadata).toEqual(meta);
    for (const [name, want] of tensors) {
      const got = getTensor(file, name, want.shape);
      expect(got.data).toEqual(want.data);
      expect(file.dtypes.get(name)).toBe('F32');
    }
    expect(Object.is(file.tensors.get('z.weight')?.data[4], -0)).toBe(true);
  });

  it('accepts a plain record and writes __metadata__ only when given', () => {
    const bytes = serializeSafetensors({ w: t([2], [1, 2]) });
    const headerLen = new DataView(bytes.buffer).getUint32(0, true);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
    expect(header).not.toContain('__metadata__');
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({});
    expect(getTensor(file, 'w').data).toEqual(Float32Array.from([1, 2]));
  });

  it('rejects a tensor whose data does not match its shape', () => {
    expect(() => serializeSafetensors({ w: t([2, 2], [1, 2, 3]) })).toThrow(/tensor "w" has 3 values, shape \[2,2\] needs 4/);
  });
});

describe('parseSafetensors dtypes', () => {
  it('reads F32 at any alignment, with a space-padded header', () => {
    const vals = [1.5, -2.25, 3e-8];
    const file = build({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } }, f32(vals), 3);
    expect((file.length - 12) % 4).not.toBe(0); // data offset deliberately not 4-aligned
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const got = parseSafetensors(shifted.subarray(1)).tensors.get('x');
    expect(got?.data).toEqual(Float32Array.from(vals));
  });

  it('converts F16 exactly, including subnormals, inf and nan', () => {
    const cases: [number, number][] = [
      [0x0000, 0], [0x8000, -0], [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125],
      [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x8001, -(2 ** -24)], [0x0400, 2 ** -14],
      [0x7bff, 65504], [0x7c00, Infinity], [0xfc00, -Infinity], [0x7e00, NaN],
    ];
    const got = parseSafetensors(single('F16', [cases.length], u16(cases.map((c) => c[0])))).tensors.get('x');
    expect(Array.from(got?.data ?? [])).toEqual(cases.map((c) => c[1]));
  });

  it('encodes every f16 value as its own bits, and rounds f32 values to the nearest f16 (ties to even) on the way', () => {
    const table = f16Values();
    for (let bits = 0; bits < 65536; bits++) {
      const v = table[bits]!;
      const isNan = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
      expect(f16Bits(v), `0x${bits.toString(16)}`).toBe(isNan ? 0x7e00 : bits);
    }
    // 1 + 2^-11 is half way between 1 and 1 + 2^-10: to even (1); 1 + 3 * 2^-11 goes up.
    expect(f16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(f16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f16Bits(65519)).toBe(0x7bff);
    expect(f16Bits(65520)).toBe(0x7c00);
    expect(f16Bits(-(2 ** -25))).toBe(0x8000); // half the smallest subnormal: to even (zero), the sign kept
    expect(f16Bits(0.1)).toBe(0x2e66);
  });

  it('writes F16 files that read back as the values rounded to f16, in half the bytes', () => {
    const vals = [0, -0, 1, -2.5, 0.1, 1 / 3, 2 ** -20, 70000, -1e-9];
    const t: HostTensor = { shape: [3, 3], data: Float32Array.from(vals) };
    const f32File = serializeSafetensors(new Map([['w', t]]), { format: 'x' });
    const f16File = serializeSafetensors(new Map([['w', t]]), { format: 'x' }, 'F16');
    const back = parseSafetensors(f16File);
    expect(back.dtypes.get('w')).toBe('F16');
    expect(back.metadata).toEqual({ format: 'x' });
    expect(Array.from(back.tensors.get('w')!.data)).toEqual(vals.map((v) => f16Round(Math.fround(v))));
    // The data sections: 2 bytes a value against 4 (after each file's length prefix and header).
    const dataBytes = (f: Uint8Array): number => f.length - 8 - new DataView(f.buffer).getUint32(0, true);
    expect(dataBytes(f16File)).toBe(2 * vals.length);
    expect(dataBytes(f32File)).toBe(4 * vals.length);
  });

  it('converts BF16 exactly', () => {
    const cases: [number, number][] = [
      [0x3f80, 1], [0xc040, -3], [0x3eaa, 0.33203125], [0x0001, 2 ** -133],
      [0x8000, -0], [0x7f80, Infinity], [0xff80, -Infinity], [0x7fc0, NaN],
    ];
    const file = parseSafetensors(single('BF16', [2, 4], u16(cases.map((c) => c[0]))));
    expect(file.dtypes.get('x')).toBe('BF16');
    expect(Array.from(file.tensors.get('x')?.data ?? [])).toEqual(cases.map((c) => c[1]));
  });

  it('converts F64 and integer dtypes to f32 values', () => {
    const ints = [37, 811, -5];
    const checks: [string, number, (v: DataView, o: number, x: number) => void, number[]][] = [
      ['I64', 8, (v, o, x) => v.setBigInt64(o, BigInt(x), true), ints],
      ['I32', 4, (v, o, x) => v.setInt32(o, x, true), ints],
      ['I16', 2, (v, o, x) => v.setInt16(o, x, true), ints],
      ['I8', 1, (v, o, x) => v.setInt8(o, x), [37, -128, -5]],
      ['U8', 1, (v, o, x) => v.setUint8(o, x), [37, 255, 0]],
      ['BOOL', 1, (v, o, x) => v.setUint8(o, x), [1, 0, 1]],
      ['F64', 8, (v, o, x) => v.setFloat64(o, x, true), [0.5, -1e10, 3]],
    ];
    for (const [dtype, size, write, vals] of checks) {
      const data = bytesOf(vals.length, size, (v, o, i) => write(v, o, vals[i]));
      const file = parseSafetensors(single(dtype, [vals.length], data));
      expect(Array.from(file.tensors.get('x')?.data ?? []), dtype).toEqual(vals);
      expect(file.dtypes.get('x')).toBe(dtype);
    }
  });

  it('names the tensor and dtype when the dtype is unknown, Object.prototype\'s names included', () => {
    expect(() => parseSafetensors(single('F8_E4M3', [2], new Uint8Array(2)), 'q.st')).toThrow(
      /^q\.st: tensor "x" has unsupported dtype F8_E4M3/,
    );
    for (const dtype of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(() => parseSafetensors(single(dtype, [128, 32], new Uint8Array(8192)), 'p.st'), dtype).toThrow(new RegExp(`^p\\.st: tensor "x" has unsupported dtype ${dtype}$`));
    }
  });

  it('keeps metadata keys that name Object.prototype\'s members as the file\'s own entries', () => {
    const file = parseSafetensors(build('{"__metadata__": {"__proto__": "a", "constructor": "b"}}'), 'm.st');
    expect(Object.getPrototypeOf(file.metadata)).toBeNull();
    expect([file.metadata['__proto__'], file.metadata.constructor, file.metadata.toString]).toEqual(['a', 'b', undefined]);
  });
});

describe('parseSafetensors on any header length', () => {
  // A header of 640 bytes begins with 0x80 0x02, as a Python pickle does: still a safetensors file.
  it('reads a file whose length prefix looks like another format', () => {
    const json = new TextEncoder().encode(JSON.stringify({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }).padEnd(640, ' '));
    const bytes = new Uint8Array(8 + 640 + 4);
    new DataView(bytes.buffer).setUint32(0, 640, true);
    bytes.set(json, 8);
    new DataView(bytes.buffer).setFloat32(648, 1.5, true);
    expect([bytes[0], bytes[1]]).toEqual([0x80, 0x02]);
    expect(Array.from(getTensor(parseSafetensors(bytes, 'w.st'), 'x').data)).toEqual([1.5]);
  });
});

describe('parseSafetensors errors', () => {
  const entry = (over: Record<string, unknown>): Uint8Array =>
    build({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...over } }, new Uint8Array(8));
  const cases: [string, Uint8Array, RegExp][] = [
    ['short file', new Uint8Array(5), /^w\.st: file has 5 bytes, shorter than the 8-byte header length/],
    ['header past the end', build('{}').subarray(0, 9), /^w\.st: truncated: header says 2 bytes, file has 1/],
    ['a PNG image', Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13), /^w\.st: not a safetensors file: it is a PNG image$/],
    ['a torch.save zip', Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 8, 0), /^w\.st: not a safetensors file: it is a zip archive \(PyTorch's torch\.save format/],
    ['a pickle', Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20), /^w\.st: not a safetensors file: it is a Python pickle/],
    ['text', new TextEncoder().encode('not a safetensors file at all'), /^w\.st: not a safetensors file \(its header does not start with "\{" after the 8-byte length\)$/],
    ['invalid JSON', build('{"x": '), /^w\.st: header is not valid JSON/],
    ['non-object header', build('[1, 2]'), /^w\.st: not a safetensors file \(its header does not start with "\{"/],
    ['entry not an object', build({ x: 3 }), /^w\.st: tensor "x" entry is not an object/],
    ['missing dtype', entry({ dtype: undefined }), /^w\.st: tensor "x" has no string dtype/],
    ['dtype not a string', entry({ dtype: 4 }), /^w\.st: tensor "x" has no string dtype/],
    ['missing shape', entry({ shape: undefined }), /^w\.st: tensor "x" has no shape/],
    ['bad shape', entry({ shape: [2, -1] }), /^w\.st: tensor "x" has no shape/],
    ['missing data_offsets', entry({ data_offsets: undefined }), /^w\.st: tensor "x" has no data_offsets/],
    ['bad data_offsets', entry({ data_offsets: ['0', 8] }), /^w\.st: tensor "x" has no data_offsets/],
    ['reversed data_offsets', entry({ data_offsets: [8, 0] }), /^w\.st: tensor "x" has data_offsets \[8,0\] with begin after end/],
    ['data truncated', entry({ data_offsets: [0, 12], shape: [3] }), /^w\.st: truncated data: tensor "x" .* 4 bytes missing/],
    ['size mismatch', entry({ shape: [3] }), /^w\.st: tensor "x" has 8 bytes, but shape \[3\] of F32 needs 12/],
    ['size mismatch F16', entry({ dtype: 'F16' }), /^w\.st: tensor "x" has 8 bytes, but shape \[2\] of F16 needs 4/],
    [
      'overlap',
      build(
        { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
        new Uint8Array(12),
      ),
      /^w\.st: tensor "b" overlaps tensor "a"/,
    ],
    [
      'overlap hidden behind an empty tensor',
      build(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, e: { dtype: 'F32', shape: [0], data_offsets: [8, 8] },
          b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        },
        new Uint8Array(12),
      ),
      /^w\.st: tensor "b" overlaps tensor "a"/,
    ],
    [
      'gap between tensors',
      build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)),
      /^w\.st: 4 bytes of the data section before tensor "b" belong to no tensor \(a gap at byte 4\)/,
    ],
    [
      'bytes after the last tensor (a header length one byte short)',
      build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(9)),
      /^w\.st: the tensors cover 8 of the 9 bytes of the data section/,
    ],
    ['metadata not an object', build({ __metadata__: 'x' }), /^w\.st: __metadata__ is not an object/],
    ['metadata value not a string', build({ __metadata__: { ch: 32 } }), /^w\.st: __metadata__ value "ch" is not a string/],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => expect(() => parseSafetensors(bytes, 'w.st')).toThrow(message));
  }

  it('defaults the source name', () => {
    expect(() => parseSafetensors(new Uint8Array(0))).toThrow(/^safetensors: file has 0 bytes/);
  });
});

describe('getTensor and shapeSize', () => {
  const file = parseSafetensors(serializeSafetensors({ w: t([2, 3], [0, 1, 2, 3, 4, 5]) }));
  it('returns the tensor, checking the shape when given', () => {
    expect(getTensor(file, 'w', [2, 3]).shape).toEqual([2, 3]);
    expect(() => getTensor(file, 'v', undefined, 'm.st')).toThrow(/^m\.st: missing tensor "v"$/);
    expect(() => getTensor(file, 'w', [3, 2], 'm.st')).toThrow(/^m\.st: tensor "w" has shape \[2,3\], expected \[3,2\]$/);
    expect(() => getTensor(file, 'w', [2, 3, 1], 'm.st')).toThrow(/expected \[2,3,1\]/);
  });
  it('multiplies dimensions', () => {
    expect(shapeSize([32, 3, 3, 3])).toBe(864);
    expect(shapeSize([])).toBe(1);
    expect(shapeSize([4, 0])).toBe(0);
  });
});

describe('reference files', () => {
  it('reads unet-tiny weights and config', () => {
    const file = parseSafetensors(readRef('unet-tiny.safetensors'), 'unet-tiny.safetensors');
    expect(file.tensors.size).toBeGreaterThanOrEqual(124);
    const w = getTensor(file, 'conv_in.weight', [32, 3, 3, 3]);
    expect(w.data.length).toBe(864);
    expect(w.data.every(Number.isFinite)).toBe(true);
    const model = JSON.parse(file.metadata.model) as { ch: number };
    expect(model.ch).toBe(32);
  });

  it('reads the I64 timesteps of the training step', () => {
    const file = parseSafetensors(readRef('unet-tiny.train.safetensors'), 'unet-tiny.train.safetensors');
    expect(file.dtypes.get('t')).toBe('I64');
    expect(Array.from(getTensor(file, 't', [2]).data)).toEqual([37, 811]);
  });

  it('round-trips the reference weights bit for bit', () => {
    const file = parseSafetensors(readRef('unet-tiny.safetensors'));
    const again = parseSafetensors(serializeSafetensors(file.tensors, file.metadata));
    expect([...again.tensors.keys()]).toEqual([...file.tensors.keys()]);
    expect(again.metadata).toEqual(file.metadata);
    for (const [name, tensor] of file.tensors) {
      const got = again.tensors.get(name);
      expect(got?.shape).toEqual(tensor.shape);
      // A plain loop: toEqual on ~700k-element typed arrays takes seconds.
      const a = new Uint32Array(tensor.data.buffer);
      const b = new Uint32Array(got?.data.buffer ?? new ArrayBuffer(0));
      const bad = a.findIndex((bits, i) => bits !== b[i]);
      expect(b.length, name).toBe(a.length);
      expect(bad, `${name}: first mismatch at index ${bad}`).toBe(-1);
    }
  });
});
