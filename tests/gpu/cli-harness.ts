// `ddim ARGS` run in the test process on the test file's device (runCli): what the binary runs,
// without a process that compiles every pipeline again. tests/gpu/cli.test.ts also runs the binary.
import { readFileSync } from 'node:fs';
import { runCli } from '../../src/cli/run';
import { parseSafetensors } from '../../src/io/safetensors';
import type { SafetensorsFile } from '../../src/host/tensor';
import { gpuOfTier, type GpuFixture } from './harness';

export interface CliResult { code: number; stdout: string; stderr: string }

export function inProcessCli(gpu: GpuFixture): (...args: string[]) => Promise<CliResult> {
  return async (...args) => {
    const out: string[] = [], err: string[] = [];
    const code = await runCli(args, {
      // A command that asks for another precision than the fixture's gets the worker's device of that tier.
      gpu: async (precision) => {
        const fx = precision === undefined || precision === 'auto' || precision === gpu.tier ? gpu : await gpuOfTier(precision);
        return { device: fx.device, adapter: fx.adapterName, tier: fx.tier };
      },
      log: (l) => out.push(l), error: (l) => err.push(l),
    });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  };
}

/** A safetensors file a command wrote. */
export function readOutput(path: string): SafetensorsFile {
  const b = readFileSync(path);
  return parseSafetensors(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), path);
}
