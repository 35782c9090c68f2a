// GPU memory has one owner: a long stay in the page (switching models and batch sizes, sampling,
// denoise chains, training runs, memory estimates) holds a constant number of live GPU buffers,
// counted here at the device.
import { describe, expect, it } from 'vitest';
import { stepCoefficients } from '../../src/diffusion/samplers';
import { alphaBars, betaSchedule } from '../../src/diffusion/schedule';
import { timestepSequence } from '../../src/diffusion/timesteps';
import { Sampler } from '../../src/engine/sampler';
import { withErrorScopes } from '../../src/gpu/kernel';
import { toReferenceLayout } from '../../src/io/convert';
import { trainingMemory } from '../../src/train/memory';
import { DEFAULT_OPTIMIZER, TrainStep } from '../../src/train/step';
import { NetCache, SampleRun } from '../../src/worker/sampling';
import { loadReference } from '../unit/ref-helpers';
import { useGpu } from './harness';

const gpu = useGpu();

/** Counts the buffers of `device` created and not yet destroyed. */
function countLiveBuffers(device: GPUDevice): () => number {
  const live = new Set<GPUBuffer>();
  const create = device.createBuffer.bind(device);
  device.createBuffer = (descriptor: GPUBufferDescriptor): GPUBuffer => {
    const b = create(descriptor);
    live.add(b);
    const destroy = b.destroy.bind(b);
    b.destroy = () => {
      live.delete(b);
      destroy();
    };
    return b;
  };
  return () => live.size;
}

describe('GPU memory ownership', () => {
  it('holds a constant number of live buffers across model switches, samples, denoise chains and training runs', async () => {
    const d = gpu.device;
    const model = toReferenceLayout(loadReference('unet-tiny.safetensors'), 'unet-tiny');
    const abar = alphaBars(betaSchedule(model.diffusion));
    const nets = new NetCache(d);
    const live = countLiveBuffers(d);
    const settings = { modelId: 'a', sampler: 'generalized' as const, steps: 2, eta: 0, skip: 'uniform' as const, seed: 1, batch: 1, clipX0: false, previews: false };
    const counts: number[] = [];
    // Inside error scopes: a buffer freed while another plan still binds it (a use after free) is a
    // validation error that fails the test.
    await withErrorScopes(d, 'a long stay', async () => {
      for (let round = 0; round < 3; round++) {
        // The sample tab: two models (or batch sizes) in turn, each run replacing the last.
        for (const [id, batch] of [['a', 1], ['b', 2]] as const) {
          const run = new SampleRun(d, nets.get(id, model, batch), model, { ...settings, modelId: id, batch });
          await run.run(() => undefined, () => false);
          run.destroy();
        }
        // A denoise chain on the cached net.
        const net = nets.get('a', model, 1);
        const chain = new Sampler(d, net, stepCoefficients(timestepSequence('uniform', 2, abar.length), abar, { sampler: 'generalized', eta: 0, clipX0: false, useClippedModelOutput: false }), { kind: 'rng', seed: 0 }, false);
        await chain.run();
        chain.destroy();
        // The train tab: a memory estimate, then a run that ends.
        trainingMemory(d, model.config, 2);
        const step = new TrainStep(d, model.config, 2, DEFAULT_OPTIMIZER);
        expect(step.owner.bytes).toBeGreaterThanOrEqual(step.memoryBytes);
        step.destroy();
        expect(step.owner.bytes).toBe(0);
        await d.queue.onSubmittedWorkDone();
        counts.push(live());
      }
    });
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
    // What stays is the one cached net's plan: replacing it frees it.
    nets.get('c', model, 3);
    const withOther = live();
    nets.get('a', model, 1);
    expect(live()).toBe(counts[0]);
    expect(withOther).toBeGreaterThan(0);
  });
});
