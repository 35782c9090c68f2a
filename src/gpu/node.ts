// Node entry to WebGPU: Dawn through the `webgpu` npm package. On machines
// without a GPU, Chromium's SwiftShader Vulkan driver gives a CPU adapter.
import { existsSync } from 'node:fs';
import { acquireDevice, type AcquiredDevice, type DeviceOptions } from './device';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// The Dawn instance must outlive every device made from it: if the GPU object were
// garbage-collected, Dawn would tear the instance down under live devices and crash.
let instance: GPU | undefined;

/**
 * Opens a device in Node. `DDIM_GPU=software` (or no hardware adapter) selects SwiftShader.
 * The Vulkan loader reads VK_ICD_FILENAMES when Dawn starts, so it is set before the import.
 */
export async function acquireNodeDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
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
  instance ??= mod.create([]);
  try {
    return await acquireDevice(instance, { ...opts, forceFallbackAdapter: software });
  } catch (e) {
    const hint = software
      ? ` (software adapter: needs Debian's chromium for ${SWIFTSHADER_ICD} and libvulkan1; set DDIM_GPU=hardware for a real GPU)`
      : '';
    throw new Error(`${(e as Error).message}${hint}`);
  }
}
