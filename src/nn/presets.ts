// Named model configurations: the sizes people pick in the app and on the command line.
import { CIFAR10_CONFIG, parseConfig, type UNetConfig } from './config';
import { own } from '../host/own';

const TINY = parseConfig({ ch: 32, out_ch: 3, ch_mult: [1, 2], num_res_blocks: 1, attn_resolutions: [8], dropout: 0, in_channels: 3, resolution: 16 });

export const PRESETS: Record<string, UNetConfig> = {
  /** The reference test model (shared/reference/unet-tiny): 16 px, 0.7M parameters. */
  tiny: TINY,
  /** The bundled emoji model's architecture (public/models/emoji16.safetensors): tiny with ch_mult
   *  [1,2,2], 1.1M parameters; the recipe search measured its milestones (train/recipe.ts), so it is
   *  what the Train tab and `ddim train` start from at 16 px. */
  bundled: { ...TINY, ch_mult: [1, 2, 2] },
  /** The benchmark model (shared/bench/small32): 32 px, 6.5M parameters. */
  small: parseConfig({ ch: 64, out_ch: 3, ch_mult: [1, 2, 2], num_res_blocks: 2, attn_resolutions: [8], dropout: 0.1, in_channels: 3, resolution: 32 }),
  /** DDPM's CIFAR-10 model: 35.7M parameters. */
  cifar10: CIFAR10_CONFIG,
};

/** The bundled emoji model's architecture (the `bundled` preset). */
export const BUNDLED_ARCHITECTURE: UNetConfig = PRESETS.bundled!;

export function preset(name: string): UNetConfig {
  const cfg = own(PRESETS, name);
  if (!cfg) throw new Error(`unknown model preset "${name}" (known: ${Object.keys(PRESETS).join(', ')})`);
  return cfg;
}
