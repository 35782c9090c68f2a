// File access for the CLI: safetensors in and out, with the file name in every error.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseSafetensors, serializeSafetensors, type HostTensor, type SafetensorsFile } from '../io/safetensors';
import { loadEmoji, type EmojiSplit } from '../train/emoji';

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Writes through a temporary file and a rename, so a failed write never leaves a half file behind. */
export function writeSafetensors(path: string, tensors: Map<string, HostTensor>, metadata?: Record<string, string>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, serializeSafetensors(tensors, metadata));
  renameSync(tmp, path);
}

/**
 * The tensor-name prefix of the weights to run: a training checkpoint (format "ddim-checkpoint")
 * holds model/, ema/ and Adam tensors, and sampling uses the EMA weights; a weights file has none.
 */
export function inferencePrefix(file: { metadata: Record<string, string> }): string {
  return file.metadata.format === 'ddim-checkpoint' ? 'ema/' : '';
}

const DATA_DIR = new URL('../../public/data/', import.meta.url);

/** The bundled emoji (`emoji16` / `emoji32`) read from public/data; `what` names the option in errors. */
export function emojiFromDisk(name: string, split: EmojiSplit, what: string): ReturnType<typeof loadEmoji> {
  const m = /^emoji(16|32)$/.exec(name);
  if (!m) throw new Error(`${what} must be emoji16 or emoji32, got "${name}"`);
  return loadEmoji(Number(m[1]), split, async (f) => new Uint8Array(readFileSync(new URL(f, DATA_DIR))));
}
