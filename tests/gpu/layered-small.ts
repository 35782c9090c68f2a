// A small layered model and its data for training tests: layered4's structure (../shared/reference)
// at 8 px and ch 8 (SwiftShader runs it ~3x faster), on the bundled emoji pooled to 8 px.
import { readFileSync } from 'node:fs';
import { parseLayered } from '../../src/research/layered';
import { loadEmoji } from '../../src/train/emoji';
import { datasetFromTensor } from '../../src/train/data';
import { loadReference } from '../unit/ref-helpers';

export const reference = loadReference('layered4.safetensors');
export const metadata = { ...reference.metadata, model: JSON.stringify({ ...JSON.parse(reference.metadata.model!), ch: 8, resolution: 8, attn_resolutions: [4] }), ch_num: '[8, 8, 8, 8]' };
export const model = parseLayered({ tensors: new Map(), metadata, dtypes: new Map() }, 'small layered');
export const data = loadEmoji(16, 'train', async (f) => new Uint8Array(readFileSync(new URL(`../../public/data/${f}`, import.meta.url)))).then((d) => {
  const pooled = new Float32Array(d.images.length / 4);
  for (let i = 0; i < pooled.length; i++) {
    const [plane, y, x] = [Math.floor(i / 64), Math.floor((i % 64) / 8), i % 8];
    const at = (dy: number, dx: number): number => d.images[plane * 256 + (2 * y + dy) * 16 + 2 * x + dx]!;
    pooled[i] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4;
  }
  return datasetFromTensor('emoji8', { shape: [d.count, 3, 8, 8], data: pooled });
});

