// Node entry to WebGPU: Dawn through the `webgpu` npm package. On machines
// without a GPU, Chromium's SwiftShader Vulkan driver gives a CPU adapter.
import { existsSync } from 'node:fs';
import { acquireDevice, type AcquiredDevice, type DeviceOptions } from './device';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// The Dawn instance must outlive every device made from it: if the GPU object were
// garbage-collected, Dawn would tear the instance down under live devices and crash.
let instance: GPU | undefined;

/** Dawn's toggles that expose shader-f16 on NVIDIA's Vulkan driver and the experimental subgroup
 *  matrices (precision tiers f16 and matrix): opt-in, `ddim --gpu-features unsafe`. */
const UNSAFE_FEATURE_TOGGLES = ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'];

export type GpuFeatureSet = 'default' | 'unsafe';

/** `--gpu-features` / DDIM_GPU_FEATURES as typed: "default" or "unsafe". */
export function parseGpuFeatures(s: string, where: string): GpuFeatureSet {
  if (s === 'default' || s === 'unsafe') return s;
  throw new Error(`${where}: unknown GPU feature set "${s}" (choose default or unsafe)`);
}

/**
 * Opens a device in Node. `DDIM_GPU=software` (or no hardware adapter) selects SwiftShader.
 * The Vulkan loader reads VK_ICD_FILENAMES when Dawn starts, so it is set before the import.
 */
export async function acquireNodeDevice(opts: DeviceOptions & { gpuFeatures?: GpuFeatureSet } = {}): Promise<AcquiredDevice> {
  const software = opts.forceFallbackAdapter ?? process.env.DDIM_GPU !== 'hardware';
  if (software && !process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    throw new Error(`WebGPU for Node is missing: could not load the "webgpu" package (${(e as Error).message}). Run npm ci.`);
  }
  Object.assign(globalThis, mod.globals);
  // One instance per process: the first acquisition's feature set holds for the later ones.
  instance ??= mod.create(opts.gpuFeatures === 'unsafe' ? UNSAFE_FEATURE_TOGGLES : []);
  try {
    return await acquireDevice(instance, { ...opts, forceFallbackAdapter: software });
  } catch (e) {
    const hint = software && !(e as Error).message.startsWith('precision ')
      ? ` (software adapter: needs Debian's chromium for ${SWIFTSHADER_ICD} and libvulkan1; set DDIM_GPU=hardware for a real GPU)`
      : '';
    throw new Error(`${(e as Error).message}${hint}`);
  }
}
