// A layered model as a step model (engine/step-model.ts): one time-free UNet per timestep of its
// fixed chain, every one reading the same x, so the one Sampler runs the chain (the page's tabs,
// `ddim sample`, the experiments) as it runs any other model. The chain's steps are DDIM's with eta 0
// over the model's seq, x_j = sqrt(abar_j / abar_i) x_i + (sqrt(1 - abar_j) - sqrt(1 - abar_i)
// sqrt(abar_j / abar_i)) eps_i(x_i) (research/layered.ts), ending at t = 0, where no sub-model runs.
import { stepCoefficients, type StepCoefficients } from '../diffusion/samplers';
import type { Dispatch } from '../gpu/kernel';
import { GpuOwner } from '../gpu/owner';
import { createTensor, type Tensor } from '../gpu/tensor';
import type { SafetensorsFile } from '../host/tensor';
import type { ParamStore } from '../nn/params';
import { UNet } from '../nn/unet';
import type { StepModel } from '../engine/step-model';
import { loadSubModels } from './chain';
import type { LayeredModel } from './layered';

/** The chain of a layered model as a sampler's steps: seq walked down from its largest t to t = 0. */
export function layeredCoefficients(m: LayeredModel): StepCoefficients[] {
  // DDIM (eta 0) over seq ends with a step from t = 0 to the clean image; the layered chain stops at t = 0.
  return stepCoefficients(m.seq, m.abar, { sampler: 'generalized', eta: 0, clipX0: false, useClippedModelOutput: false }).slice(0, -1);
}

export class LayeredStepModel implements StepModel {
  readonly kind = 'layered';
  readonly x: Tensor;
  readonly t = null;
  /** The sub-model of every t of seq above 0. */
  readonly nets = new Map<number, UNet>();
  readonly parameters: number;
  private readonly owner = new GpuOwner('layered model');
  private readonly steps = new Map<number, { forward: Dispatch[]; eps: Tensor }>();

  /** `params(t)`: the sub-models' parameters when shared (a trainer's EMA); allocated when absent. */
  constructor(private readonly device: GPUDevice, readonly model: LayeredModel, batch: number, params?: (t: number) => ParamStore) {
    const scope = this.owner.open();
    try {
      const c = model.configs.get(model.seq[0]!)!;
      this.x = createTensor(device, [batch, c.in_channels, c.resolution, c.resolution], 'layered.x');
      for (const t of model.seq.slice(1)) {
        const net = new UNet(device, model.configs.get(t)!, { batch, input: this.x, label: `models.${t}`, ...(params ? { params: params(t) } : {}) });
        this.nets.set(t, net);
        this.steps.set(t, { forward: net.forward, eps: net.eps });
      }
      scope.keep();
    } finally {
      scope.close();
    }
    this.parameters = [...this.nets.values()].reduce((s, n) => s + n.layout.count, 0);
  }

  at(t: number): { forward: Dispatch[]; eps: Tensor } {
    const step = this.steps.get(t);
    if (!step) throw new Error(`layered model: no sub-model at t = ${t} (its chain is t = ${[...this.model.seq].reverse().join(', ')})`);
    return step;
  }

  /** Loads `models.<t>.*` of a layered file into every sub-model (all validated before any is written). */
  load(file: SafetensorsFile, source: string): void {
    loadSubModels(this.device, [...this.nets].map(([t, net]) => ({ t, net })), file, source);
  }

  destroy(): void {
    this.owner.destroy();
  }
}
