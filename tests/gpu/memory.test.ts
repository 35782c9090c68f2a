// The memory estimate (a dry run of the planner, no GPU buffer of any size) equals what a real
// training step then allocates, scratch and uniforms included, and names the limit a configuration
// exceeds. And GPU memory has one owner: a long stay in the page (switching models and batch sizes, sampling,
// denoise chains, training runs, memory estimates) holds a constant number of live GPU buffers.
import { unetModelFile } from '../../src/app/model-files';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PRESETS } from '../../src/nn/presets';
import { memoryProblem, trainingMemory } from '../../src/train/memory';
import { TrainStep } from '../../src/train/step';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer';
import { stepCoefficients } from '../../src/diffusion/samplers';
import { alphaBars, betaSchedule } from '../../src/diffusion/schedule';
import { timestepSequence } from '../../src/diffusion/timesteps';
import { Sampler } from '../../src/engine/sampler';
import { withErrorScopes } from '../../src/gpu/kernel';
import { toReferenceLayout } from '../../src/io/convert';
import { NetCache, SampleRun } from '../../src/worker/sampling';
import { loadReference } from '../unit/ref-helpers';
import { GpuOwner } from '../../src/gpu/owner';
import { parseLayered } from '../../src/research/layered';
import { layeredTrainingMemory } from '../../src/research/memory';
import { LayeredTrainer, initLayered } from '../../src/research/trainer';
import { datasetFromTensor } from '../../src/train/data';
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

  for (const [mode, correction] of [['end2end', { detach: false }], ['layer', undefined]] as const) {
    it(`a layered model (${mode}): the dry-run estimate allocates nothing and is exactly what the real trainer allocates`, () => {
      const d = gpu.device;
      const model = parseLayered(loadReference('layered4.safetensors'), 'layered4');
      const options = { ...DEFAULT_OPTIMIZER, mode, correction, groundTruth: 'D' as const, useTrueXAsX: false, lossWeights: false, batch: 2, seed: 0, randomFlip: true };
      const create = d.createBuffer.bind(d);
      let created = 0;
      d.createBuffer = (desc: GPUBufferDescriptor) => {
        created++;
        return create(desc);
      };
      const initial = initLayered(model, 0);
      const m = layeredTrainingMemory(d, model, options, initial);
      d.createBuffer = create;
      expect(created).toBe(0);
      const c = model.configs.get(0)!;
      const data = datasetFromTensor('x', { shape: [2, c.in_channels, c.resolution, c.resolution], data: new Float32Array(2 * c.in_channels * c.resolution ** 2) });
      const owner = new GpuOwner('layered trainer');
      const trainer = owner.run(() => new LayeredTrainer(d, model, options, data, initial));
      expect(m.totalBytes).toBe(owner.bytes);
      expect(m.largestBufferBytes).toBe(owner.largestBuffer);
      expect(m.parameters).toBe(trainer.parameters);
      owner.destroy();
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

/** Counts the buffers of `device` created and not yet destroyed, until `stop` restores the device. */
function countLiveBuffers(device: GPUDevice): { live: () => number; stop: () => void } {
  const live = new Set<GPUBuffer>();
  const create = device.createBuffer;
  device.createBuffer = (descriptor: GPUBufferDescriptor): GPUBuffer => {
    const b = create.call(device, descriptor);
    live.add(b);
    const destroy = b.destroy.bind(b);
    b.destroy = () => {
      live.delete(b);
      destroy();
    };
    return b;
  };
  return { live: () => live.size, stop: () => void (device.createBuffer = create) };
}

describe('GPU memory ownership', () => {
  it('holds a constant number of live buffers across model switches, samples, denoise chains and training runs', async () => {
    const d = gpu.device;
    const reference = toReferenceLayout(loadReference('unet-tiny.safetensors'), 'unet-tiny');
    const model = unetModelFile(reference, 'unet-tiny');
    const abar = alphaBars(betaSchedule(reference.diffusion));
    const nets = new NetCache(d);
    const counter = countLiveBuffers(d);
    onTestFinished(() => counter.stop()); // the device serves the worker's other test files too
    const live = counter.live;
    const settings = { modelId: 'a', sampler: 'generalized' as const, steps: 2, eta: 0, skip: 'uniform' as const, seed: 1, batch: 1, clipX0: false, previews: false };
    const counts: number[] = [];
    // Inside error scopes: a buffer freed while another plan still binds it (a use after free) is a
    // validation error that fails the test.
    await withErrorScopes(d, 'a long stay', async () => {
      for (let round = 0; round < 2; round++) {
        // The sample tab: two models (or batch sizes) in turn, each run replacing the last.
        for (const [id, batch] of [['a', 1], ['b', 2]] as const) {
          const run = new SampleRun(d, nets.get(id, model, batch), model, { ...settings, modelId: id, batch });
          await run.advance(() => undefined, { progress: () => undefined, stopped: false });
          run.destroy();
        }
        // A denoise chain on the cached net.
        const net = nets.get('a', model, 1);
        const chain = new Sampler(d, net, stepCoefficients(timestepSequence('uniform', 2, abar.length), abar, { sampler: 'generalized', eta: 0, clipX0: false, useClippedModelOutput: false }), { kind: 'rng', seed: 0 }, false);
        await chain.run();
        chain.destroy();
        // The train tab: a memory estimate, then a run that ends.
        trainingMemory(d, reference.config, 2);
        const step = new TrainStep(d, reference.config, 2, DEFAULT_OPTIMIZER);
        expect(step.owner.bytes).toBeGreaterThanOrEqual(step.memoryBytes);
        step.destroy();
        expect(step.owner.bytes).toBe(0);
        await d.queue.onSubmittedWorkDone();
        counts.push(live());
      }
    });
    expect(counts[1]).toBe(counts[0]);
    // What stays is the one cached net's plan: replacing it frees it.
    nets.get('c', model, 3);
    const withOther = live();
    nets.get('a', model, 1);
    expect(live()).toBe(counts[0]);
    expect(withOther).toBeGreaterThan(0);
  });
});
