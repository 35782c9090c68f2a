// The memory estimate made before allocating equals what the planner then allocates, and names the
// limit a configuration exceeds.
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/nn/presets';
import { memoryProblem, trainingMemory } from '../../src/train/memory';
import { DEFAULT_OPTIMIZER, TrainStep } from '../../src/train/step';
import { useGpu } from './harness';

const gpu = useGpu();

describe('training memory', () => {
  for (const [name, batch] of [['tiny', 3], ['small', 2]] as const) {
    it(`${name} at batch ${batch}: the estimate from a batch-1 plan is exactly what the full plan allocates`, () => {
      const m = trainingMemory(gpu.device, PRESETS[name]!, batch);
      const step = new TrainStep(gpu.device, PRESETS[name]!, batch, DEFAULT_OPTIMIZER);
      expect(m.totalBytes).toBe(step.memoryBytes);
      expect(m.largestBufferBytes).toBeGreaterThanOrEqual(Math.max(step.net.layout.totalFloats * 4, step.net.largestActivationBytes));
      expect(m.largestBufferBytes).toBeLessThanOrEqual(batch * Math.max(step.net.layout.totalFloats * 4, step.net.largestActivationBytes));
      expect(m.parameters).toBe(step.net.layout.count);
    });
  }

  it('names the per-buffer limit a batch exceeds', () => {
    const m = trainingMemory(gpu.device, PRESETS.cifar10!, 4096);
    expect(memoryProblem(m, { maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 }))
      .toMatch(/its largest buffer needs [\d.]+ MiB, over this adapter's limit of 128\.0 MiB per buffer \(maxStorageBufferBindingSize\/maxBufferSize\)/);
    expect(memoryProblem(trainingMemory(gpu.device, PRESETS.tiny!, 1), gpu.device.limits)).toBeUndefined();
    expect(() => trainingMemory(gpu.device, PRESETS.tiny!, 0)).toThrow(/batch size must be a positive integer, got 0/);
  });
});
