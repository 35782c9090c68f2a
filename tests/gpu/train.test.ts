// One full training step vs the PyTorch golden (unet-tiny.train): loss, every gradient, clip + Adam,
// EMA. The step runs through `ddim train-step`, which runs the engine's TrainStep and writes all of
// it to a file, so one computation checks the engine and the command's contract.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getTensor } from '../../src/io/safetensors';
import { useGpu } from './harness';
import { inProcessCli, readOutput } from './cli-harness';
import { expectTrainGolden } from './train-golden';

const REF = new URL('../../../shared/reference/', import.meta.url).pathname;
const ddim = inProcessCli(useGpu());

describe('training step on WebGPU', () => {
  it('ddim train-step reproduces unet-tiny.train: loss, gradients, clip + Adam, EMA', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ddim-train-')), 'train.safetensors');
    const r = await ddim('train-step', '--weights', REF + 'unet-tiny.safetensors', '--batch', REF + 'unet-tiny.train.safetensors', '--out', out,
      '--lr', '2e-4', '--grad-clip', '1.0', '--ema', '0.9999');
    expect(r.code, r.stderr).toBe(0);
    const f = readOutput(out);
    const group = (prefix: string) => new Map([...f.tensors].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]));
    expectTrainGolden({
      loss: getTensor(f, 'loss', [1]).data[0]!, gradNorm: getTensor(f, 'grad_norm_before_clip', [1]).data[0]!,
      grads: group('grad/'), step1: group('step1/'), ema1: group('ema1/'),
    });
  });
});
