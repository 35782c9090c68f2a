// This engine's side of the benchmark: the UNet planned once per (model, batch), parameters
// shared by every batch of a model. One timed forward = write x and t, replay the planned forward
// in one submit, read eps back (the same host-in, host-out work ORT's session.run does).
import { acquireDevice } from '../../src/gpu/device';
import { submitDispatches, withErrorScopes } from '../../src/gpu/kernel';
import { readTensor, upload } from '../../src/gpu/tensor';
import type { SafetensorsFile } from '../../src/host/tensor';
import type { UNetConfig } from '../../src/nn/config';
import type { ParamStore } from '../../src/nn/params';
import { UNet } from '../../src/nn/unet';
import type { Progress } from './common';

export interface OursDevice {
  device: GPUDevice;
  adapterName: string;
}

export async function openDevice(progress: Progress): Promise<OursDevice> {
  const acquired = await acquireDevice(navigator.gpu);
  acquired.device.lost.then((info) => progress(`ours: device lost (${info.reason}): ${info.message}`));
  acquired.device.addEventListener('uncapturederror', (e) => progress(`ours: uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
  return acquired;
}

/** One model's weights on this device; `plan` builds the forward for a batch size. */
export class OursModel {
  private params: ParamStore | null = null;

  constructor(
    private readonly device: GPUDevice,
    private weights: SafetensorsFile | null,
    readonly config: UNetConfig,
    private readonly source: string,
  ) {}

  plan(batch: number, x: Float32Array, t: Float32Array): OursForward {
    const net = new UNet(this.device, this.config, { batch, label: `bench.b${batch}`, ...(this.params ? { params: this.params } : {}) });
    if (!this.params) {
      net.params.load(this.weights!, this.source);
      this.params = net.params;
      this.weights = null; // uploaded once; later batches share the parameter buffer
    }
    return new OursForward(this.device, net, x, t, `${this.source} batch ${batch}`);
  }
}

export class OursForward {
  private checked = false;

  constructor(
    private readonly device: GPUDevice,
    private readonly net: UNet,
    private readonly x: Float32Array,
    private readonly t: Float32Array,
    private readonly what: string,
  ) {}

  /** One forward, submit to completion, eps read back. The first call runs inside error scopes. */
  async run(): Promise<Float32Array> {
    const once = async () => {
      upload(this.device, this.net.x, this.x);
      upload(this.device, this.net.t, this.t);
      submitDispatches(this.device, this.net.forward, 'bench.forward');
      return readTensor(this.device, this.net.eps);
    };
    if (this.checked) return once();
    this.checked = true;
    return withErrorScopes(this.device, `${this.what}: forward`, once);
  }
}
