// File access for the CLI: safetensors in and out, with the file name in every error.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import type { ReferenceModel } from '../io/convert';
import { idealModel, readModelFile, readUNetFile, type ConfigText, type ModelFile } from '../app/model-files';
import { DEFAULT_DIFFUSION } from '../diffusion/schedule';
import { parseSafetensors, serializeSafetensors, type WrittenDtype } from '../io/safetensors';
import type { HostTensor, SafetensorsFile } from '../host/tensor';
import type { ImageDataset } from '../train/data';
import { bundledEmojiSize, loadEmoji, type EmojiSplit } from '../train/emoji';
import { imagesFromDir, isDirectory } from './images';

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/**
 * Writes through a temporary file beside `path` (created exclusively, so it never clobbers another
 * writer's) and a rename, so a failed write never leaves a half file behind; the temporary file is
 * removed on any failure.
 */
export function writeSafetensors(path: string, tensors: Map<string, HostTensor>, metadata?: Record<string, string>, dtype: WrittenDtype = 'F32'): void {
  const bytes = serializeSafetensors(tensors, metadata, dtype);
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, bytes, { flag: 'wx' });
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
    throw new Error(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** A config.json named on the command line, read. */
export function configText(configPath?: string): ConfigText | undefined {
  if (configPath === undefined) return undefined;
  try {
    return { text: readFileSync(configPath, 'utf8'), name: configPath };
  } catch (e) {
    throw new Error(`${configPath}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Any model file, read as the page's import reads it (app/model-files.ts: a UNet in the reference
 * layout, diffusers' UNet2DModel with or without a config.json, a training checkpoint's EMA weights,
 * or a layered model), validated completely; `configPath` is a config.json chosen with it.
 */
export function openModelFile(path: string, configPath?: string): ModelFile {
  return readModelFile(readSafetensors(path), path, configText(configPath));
}

/** The time-conditioned UNet of a model file (the commands that take only that: forward, train-step, convert). */
export function openModel(path: string, configPath?: string, file?: SafetensorsFile): ReferenceModel {
  return readUNetFile(file ?? readSafetensors(path), path, 'this command', configText(configPath)).model;
}

/** Side of the images of a folder the ideal denoiser reads (the Train tab's size for your images). */
const FOLDER_SIZE = 32;

/**
 * The ideal denoiser of a data set named on the command line (emoji16, emoji32, or a folder of images
 * at 32 px): the exact posterior mean of its training images, on the reference schedule.
 */
export async function openIdeal(name: string, what: string): Promise<ModelFile> {
  const data = await loadData(name, 'train', bundledEmojiSize(name) ?? FOLDER_SIZE, what);
  return idealModel(data, DEFAULT_DIFFUSION, `the ideal denoiser of ${name}`);
}

/** A model named on the command line: a file, or `ideal:DATA` for the ideal denoiser of a data set. */
export async function openModelArg(arg: string, what: string): Promise<ModelFile> {
  return arg.startsWith('ideal:') ? openIdeal(arg.slice('ideal:'.length), what) : openModelFile(arg);
}

const DATA_DIR = new URL('../../public/data/', import.meta.url);

/**
 * A dataset named on the command line: the bundled emoji (`emoji16` / `emoji32`, read from
 * public/data) or a folder of images resized to `resolution`; `what` names the option in errors.
 */
export function loadData(name: string, split: EmojiSplit, resolution: number, what: string): Promise<ImageDataset> {
  const bundled = bundledEmojiSize(name);
  if (bundled) return loadEmoji(bundled, split, async (f) => new Uint8Array(readFileSync(new URL(f, DATA_DIR))));
  if (!isDirectory(name)) throw new Error(`${what} must be emoji16, emoji32 or a folder of PNG/JPEG/WebP images, got "${name}"`);
  return imagesFromDir(name, resolution, split);
}
