// The memory estimate (a dry run of the planner, no GPU buffer of any size) equals what a real
// training step then allocates, scratch and uniforms included, and names the limit a configuration
// exceeds.
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/nn/presets';
import { memoryProblem, trainingMemory } from '../../src/train/memory';
import { DEFAULT_OPTIMIZER, TrainStep } from '../../src/train/step';
import { useGpu } from './harness';

const gpu = useGpu();

describe('training memory', () => {
  for (const [name, batch] of [['tiny', 3], ['tiny', 16], ['small', 2]] as const) {
    it(`${name} at batch ${batch}: the dry-run estimate allocates nothing and is exactly what the real plan allocates`, () => {
      const d = gpu.device;
      const create = d.createBuffer.bind(d);
      let created = 0;
      d.createBuffer = (desc: GPUBufferDescriptor) => {
        created++;
        return create(desc);
      };
      const m = trainingMemory(d, PRESETS[name]!, batch);
      d.createBuffer = create;
      expect(created).toBe(0);
      const step = new TrainStep(d, PRESETS[name]!, batch, DEFAULT_OPTIMIZER);
      expect(m.totalBytes).toBe(step.memoryBytes);
      expect(m.largestBufferBytes).toBe(step.owner.largestBuffer);
      expect(m.stateBytes).toBe(5 * step.net.params.flat.buffer.size);
      expect(m.parameters).toBe(step.net.layout.count);
      step.destroy();
    });
  }

  it('names the per-buffer limit a batch exceeds', () => {
    const m = trainingMemory(gpu.device, PRESETS.cifar10!, 4096);
    expect(memoryProblem(m, { maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 28 }))
      .toMatch(/its largest buffer needs [\d.]+ MiB, over this adapter's limit of 128\.0 MiB per buffer \(maxStorageBufferBindingSize\/maxBufferSize\)/);
    expect(memoryProblem(trainingMemory(gpu.device, PRESETS.tiny!, 1), gpu.device.limits)).toBeUndefined();
    // A batch past the adapter's workgroup limit is reported by the dry run, not thrown.
    const huge = trainingMemory(gpu.device, PRESETS.tiny!, 20000);
    expect(memoryProblem(huge, { maxStorageBufferBindingSize: 2 ** 40, maxBufferSize: 2 ** 40 })).toMatch(/workgroups exceed maxComputeWorkgroupsPerDimension \(65535\); use a smaller batch or model/);
    expect(() => trainingMemory(gpu.device, PRESETS.tiny!, 0)).toThrow(/batch size must be a positive integer, got 0/);
  });
});
