// `ddim <command>`: the engine on the command line, through Dawn (the `webgpu` npm package). The
// process entry: the GPU is acquired only when a command asks for it, and destroyed at exit.
import { acquireNodeDevice } from '../gpu/node';
import type { Gpu } from './commands';
import { runCli } from './run';

async function main(argv: readonly string[]): Promise<number> {
  let gpu: Promise<Gpu> | undefined;
  const acquire = async (): Promise<Gpu> => {
    const { device, adapterName } = await acquireNodeDevice({ forceFallbackAdapter: process.env.DDIM_GPU !== 'hardware' });
    device.addEventListener('uncapturederror', (e) => console.error(`ddim ${argv[0]}: WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
    return { device, adapter: adapterName };
  };
  try {
    return await runCli(argv, { gpu: () => (gpu ??= acquire()), log: (l) => console.log(l), error: (l) => console.error(l) });
  } finally {
    if (gpu) (await gpu.catch(() => undefined))?.device.destroy();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
