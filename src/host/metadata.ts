// JSON values stored as strings in a safetensors `__metadata__` (model, diffusion, trainer configs).

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
