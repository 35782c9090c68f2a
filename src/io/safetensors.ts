// safetensors read/write (https://github.com/huggingface/safetensors):
//   [u64 LE header length N][N bytes of JSON header][raw little-endian tensor data]
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the
// start of the data section) plus an optional "__metadata__" of string values.
// Every tensor is widened to f32 on read: the engine computes in f32, and the integer tensors in the
// reference files are small timesteps that f32 holds exactly.
import { shapeSize, type HostTensor, type SafetensorsFile } from '../host/tensor';
import { own } from '../host/own';
import { f16Bits, f16Values } from '../host/f16';

const DEFAULT_SOURCE = 'safetensors';
/** Whether typed arrays on this machine are little-endian, as safetensors data is. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Bytes per element and a little-endian element reader, per dtype. */
interface DtypeCodec {
  size: number;
  read: (view: DataView, offset: number) => number;
}

// bf16 is the top half of an f32: decode through a scratch word so the result is bit-exact.
const scratch = new DataView(new ArrayBuffer(4));
function bf16ToF32(bits: number): number {
  scratch.setUint32(0, bits << 16, true);
  return scratch.getFloat32(0, true);
}

const CODECS: Record<string, DtypeCodec> = {
  F64: { size: 8, read: (v, o) => v.getFloat64(o, true) },
  F32: { size: 4, read: (v, o) => v.getFloat32(o, true) },
  F16: { size: 2, read: (v, o) => f16Values()[v.getUint16(o, true)]! },
  BF16: { size: 2, read: (v, o) => bf16ToF32(v.getUint16(o, true)) },
  I64: { size: 8, read: (v, o) => Number(v.getBigInt64(o, true)) },
  U64: { size: 8, read: (v, o) => Number(v.getBigUint64(o, true)) },
  I32: { size: 4, read: (v, o) => v.getInt32(o, true) },
  U32: { size: 4, read: (v, o) => v.getUint32(o, true) },
  I16: { size: 2, read: (v, o) => v.getInt16(o, true) },
  U16: { size: 2, read: (v, o) => v.getUint16(o, true) },
  I8: { size: 1, read: (v, o) => v.getInt8(o) },
  U8: { size: 1, read: (v, o) => v.getUint8(o) },
  BOOL: { size: 1, read: (v, o) => (v.getUint8(o) !== 0 ? 1 : 0) },
};


function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isNatural(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isNaturalArray(x: unknown, length?: number): x is number[] {
  return Array.isArray(x) && x.every(isNatural) && (length === undefined || x.length === length);
}

/** What a file that is not safetensors is, by its first bytes, for the error: the files people pick by mistake. */
function otherFormat(bytes: Uint8Array): string | undefined {
  const starts = (...b: number[]): boolean => b.every((v, i) => bytes[i] === v);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return "a zip archive (PyTorch's torch.save format: save the state_dict with safetensors.torch.save_file instead)";
  if (starts(0x80) && bytes[1]! >= 2 && bytes[1]! <= 5) return "a Python pickle (PyTorch's older torch.save format: save the state_dict with safetensors.torch.save_file instead)";
  return undefined;
}

function parseHeader(bytes: Uint8Array, fail: (msg: string) => never): { json: Record<string, unknown>; dataStart: number } {
  // A safetensors file is an 8-byte length and a JSON object: anything else is named, not parsed
  // (what other files begin with is asked only of one whose header does not open with "{").
  if (bytes.length > 8 && bytes[8] !== 0x7b /* { */) {
    const other = otherFormat(bytes);
    fail(`not a safetensors file${other ? `: it is ${other}` : ' (its header does not start with "{" after the 8-byte length)'}`);
  }
  if (bytes.length < 8) fail(`file has ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Two u32 halves rather than a BigInt: any length past 2^53 is beyond the file anyway.
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLen > bytes.length - 8) {
    fail(`truncated: header says ${headerLen} bytes, file has ${bytes.length - 8} after the length prefix`);
  }
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  // JSON that opens with "{" (checked above) is an object.
  return { json: json as Record<string, unknown>, dataStart: 8 + headerLen };
}

function parseMetadata(raw: unknown, fail: (msg: string) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (!isRecord(raw)) fail('__metadata__ is not an object');
  // No prototype: a key such as "__proto__" or "constructor" is the file's own entry, nothing else.
  const metadata = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') fail(`__metadata__ value "${key}" is not a string`);
    metadata[key] = value;
  }
  return metadata;
}

/** Parses a safetensors file; `source` (a file name) starts every error message. */
export function parseSafetensors(bytes: Uint8Array, source: string = DEFAULT_SOURCE): SafetensorsFile {
  const fail: (msg: string) => never = (msg) => {
    throw new Error(`${source}: ${msg}`);
  };
  const { json, dataStart } = parseHeader(bytes, fail);
  const dataLen = bytes.length - dataStart;
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart, dataLen);
  const file: SafetensorsFile = { tensors: new Map(), dtypes: new Map(), metadata: parseMetadata(json.__metadata__, fail) };
  const spans: { name: string; begin: number; end: number }[] = [];

  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    if (!isRecord(entry)) fail(`tensor "${name}" entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') fail(`tensor "${name}" has no string dtype`);
    if (!isNaturalArray(shape)) fail(`tensor "${name}" has no shape (an array of non-negative integers)`);
    if (!isNaturalArray(offsets, 2)) fail(`tensor "${name}" has no data_offsets (two non-negative integers)`);
    const codec = own(CODECS, dtype);
    if (codec === undefined) fail(`tensor "${name}" has unsupported dtype ${dtype}`);
    const [begin, end] = offsets;
    if (begin > end) fail(`tensor "${name}" has data_offsets [${begin},${end}] with begin after end`);
    if (end > dataLen) {
      fail(`truncated data: tensor "${name}" ends at byte ${end} of a ${dataLen}-byte data section, ${end - dataLen} bytes missing`);
    }
    const count = shapeSize(shape);
    if (end - begin !== count * codec.size) {
      fail(`tensor "${name}" has ${end - begin} bytes, but shape ${fmtShape(shape)} of ${dtype} needs ${count * codec.size}`);
    }
    const data = new Float32Array(count);
    if (dtype === 'F32' && LITTLE_ENDIAN) {
      // The file's bytes are the array's bytes: one copy (the data may sit at any alignment).
      new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    } else {
      // DataView reads work at any alignment: `bytes` may sit at any offset in its ArrayBuffer.
      for (let i = 0; i < count; i++) data[i] = codec.read(view, begin + i * codec.size);
    }
    file.tensors.set(name, { shape: [...shape], data });
    file.dtypes.set(name, dtype);
    spans.push({ name, begin, end });
  }

  // As the format promises (and HF safetensors enforces): the tensors, in offset order, tile the data
  // section exactly, with no gap, no overlap (empty tensors included) and nothing after the last.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let last = '';
  for (const cur of spans) {
    if (cur.begin < covered) fail(`tensor "${cur.name}" overlaps tensor "${last}" (it starts at byte ${cur.begin}, before ${covered})`);
    if (cur.begin > covered) fail(`${cur.begin - covered} bytes of the data section before tensor "${cur.name}" belong to no tensor (a gap at byte ${covered})`);
    covered = cur.end;
    last = cur.name;
  }
  if (covered !== dataLen) fail(`the tensors cover ${covered} of the ${dataLen} bytes of the data section (is the header length right?)`);
  return file;
}

/** The dtypes tensors are written in: F32 as computed, or F16 (each value rounded to the nearest
 *  binary16, ties to even; a bundled model's weights at half the bytes). */
export type WrittenDtype = 'F32' | 'F16';

/** Serializes tensors as F32 or F16 (in insertion order, 8-byte aligned header padded with spaces) plus string metadata. */
export function serializeSafetensors(
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
  dtype: WrittenDtype = 'F32',
): Uint8Array {
  const size = dtype === 'F16' ? 2 : 4;
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new Error('serializeSafetensors: "__metadata__" is not a tensor name');
    if (t.data.length !== shapeSize(t.shape)) {
      throw new Error(`serializeSafetensors: tensor "${name}" has ${t.data.length} values, shape ${fmtShape(t.shape)} needs ${shapeSize(t.shape)}`);
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length * size] };
    offset += t.data.length * size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad so the data section starts 8-byte aligned: readers can then view the data in place.
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen, true); // high u32 stays 0: headers are far below 4 GiB
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const [, t] of entries) {
    if (dtype === 'F16') for (let i = 0; i < t.data.length; i++, pos += 2) view.setUint16(pos, f16Bits(t.data[i]), true);
    else for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i], true);
  }
  return out;
}


/** Reads a tensor or throws `${source}: missing tensor "name"`; with `shape`, also checks it: `${source}: tensor "name" has shape [a,b], expected [c,d]`. */
export function getTensor(
  file: SafetensorsFile,
  name: string,
  shape?: readonly number[],
  source: string = DEFAULT_SOURCE,
): HostTensor {
  const t = file.tensors.get(name);
  if (t === undefined) throw new Error(`${source}: missing tensor "${name}"`);
  if (shape !== undefined && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
    throw new Error(`${source}: tensor "${name}" has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
  }
  return t;
}
