// What a safetensors `__metadata__` says: the file's format, and JSON values stored as strings
// (model, diffusion, trainer configs).

/** `__metadata__.format` of the files this project writes (app/model-files.ts reads them by it). */
export const FILE_FORMATS = {
  /** A UNet in the reference layout. */
  unet: 'ddim-unet',
  /** A training run's state; its EMA weights sample. */
  checkpoint: 'ddim-checkpoint',
  /** A layered (research-mode) model, one time-free UNet per step, maybe with its optimizer state. */
  layered: 'ddim-layered',
  /** The x_T of images (`ddim invert`), for `ddim sample --init`. */
  inversion: 'ddim-inversion',
} as const;

/** The parsed JSON of `metadata[key]`, or undefined when the key is absent; bad JSON names the file and key. */
export function metadataJson(metadata: Record<string, string>, key: string, source: string): unknown {
  const text = metadata[key];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`${source}: __metadata__.${key} is not valid JSON (${(e as Error).message})`);
  }
}
