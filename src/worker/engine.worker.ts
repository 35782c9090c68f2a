// The engine's worker: owns the GPUDevice; the page reaches it only through EngineApi (comlink).
import { expose } from 'comlink';
import { acquireDevice } from '../gpu/device';
import { submitDispatches } from '../gpu/kernel';
import { upload } from '../gpu/tensor';
import { initParameters } from '../nn/init';
import { preset } from '../nn/presets';
import { UNet } from '../nn/unet';
import type { EngineApi } from './api';

let device: GPUDevice | undefined;

function requireDevice(): GPUDevice {
  if (!device) throw new Error('engine: init() has not been called');
  return device;
}

const engine: EngineApi = {
  async init() {
    const acquired = await acquireDevice(navigator.gpu);
    device = acquired.device;
    return { adapter: acquired.adapterName, maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize };
  },

  async timeForward(name, batch, runs) {
    const d = requireDevice();
    const cfg = preset(name);
    const net = new UNet(d, cfg, { batch });
    upload(d, net.params.flat, initParameters(net.layout, 1));
    upload(d, net.x, new Float32Array(net.x.shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i)));
    upload(d, net.t, new Float32Array(batch).fill(500));
    submitDispatches(d, net.forward); // warm-up: compiles the pipelines
    await d.queue.onSubmittedWorkDone();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      submitDispatches(d, net.forward);
      await d.queue.onSubmittedWorkDone();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { config: name, batch, parameters: net.layout.count, medianMs: times[Math.floor(times.length / 2)]!, runs };
  },
};

expose(engine);
