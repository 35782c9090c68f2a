// `ddim [--gpu-features default|unsafe] <command>`: the engine on the command line, through Dawn (the
// `webgpu` npm package). The process entry: the GPU is acquired only when a command asks for it, with
// the precision the command asks for, and destroyed at exit. `--gpu-features unsafe` (or
// DDIM_GPU_FEATURES=unsafe) turns on Dawn's toggles that expose shader-f16 and subgroup matrices on
// adapters that hide them (gpu/node.ts).
import { acquireNodeDevice, parseGpuFeatures, type GpuFeatureSet } from '../gpu/node';
import type { PrecisionRequest } from '../gpu/tier';
import type { Gpu } from './commands';
import { runCli } from './run';

/** The options before the command name, and the command line after them. */
function globalOptions(argv: readonly string[]): { gpuFeatures: GpuFeatureSet; rest: readonly string[] } {
  const which = process.env.DDIM_GPU;
  if (which !== undefined && which !== 'hardware' && which !== 'software') throw new Error(`ddim: DDIM_GPU must be hardware or software, got "${which}"`);
  let gpuFeatures = parseGpuFeatures(process.env.DDIM_GPU_FEATURES ?? 'default', 'ddim: DDIM_GPU_FEATURES');
  let i = 0;
  while (argv[i] === '--gpu-features') {
    const v = argv[i + 1];
    if (v === undefined) throw new Error('ddim: --gpu-features needs a value (default or unsafe)');
    gpuFeatures = parseGpuFeatures(v, 'ddim: --gpu-features');
    i += 2;
  }
  return { gpuFeatures, rest: argv.slice(i) };
}

async function main(argv: readonly string[]): Promise<number> {
  let options: ReturnType<typeof globalOptions>;
  try {
    options = globalOptions(argv);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const { gpuFeatures, rest } = options;
  let gpu: Promise<Gpu> | undefined;
  const acquire = async (precision: PrecisionRequest): Promise<Gpu> => {
    const { device, adapterName, tier } = await acquireNodeDevice({ forceFallbackAdapter: process.env.DDIM_GPU !== 'hardware', precision, gpuFeatures });
    device.addEventListener('uncapturederror', (e) => console.error(`ddim ${rest[0]}: WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
    return { device, adapter: adapterName, tier };
  };
  try {
    return await runCli(rest, { gpu: (precision) => (gpu ??= acquire(precision ?? 'auto')), log: (l) => console.log(l), error: (l) => console.error(l) });
  } finally {
    if (gpu) (await gpu.catch(() => undefined))?.device.destroy();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
