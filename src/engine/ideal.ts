// The ideal denoiser as a step model (engine/step-model.ts): for a data set X of N images, eps(x_t, t)
// from the exact posterior mean E[x0 | x_t] when x0 is drawn uniformly from X (shaders/ideal.wgsl).
// It is what a perfectly trained model of the training set would predict: at the first step (t near
// T) its x0 is the data set's mean image, the blurry average, and its chain ends on training images.
// Sampling with it shows both ends of the seed's question; set beside a trained model's predictions
// at the same x_t, it measures how far the model is from the best any denoiser of this data can do.
import { GpuOwner } from '../gpu/owner';
import { createTensor, createTensorFrom, type Tensor } from '../gpu/tensor';
import type { Dispatch } from '../gpu/kernel';
import { idealDenoiser } from '../kernels/ideal';
import type { StepModel } from './step-model';

export class IdealStepModel implements StepModel {
  readonly kind = 'ideal';
  readonly x: Tensor;
  readonly t: Tensor;
  /** The posterior mean of the last evaluation (B, C, H, W). */
  readonly x0: Tensor;
  readonly eps: Tensor;
  readonly parameters = 0;
  private readonly forward: Dispatch[];
  private readonly owner = new GpuOwner('ideal denoiser');

  /** `images` (N, C, H, W) in [-1, 1], `abar` the schedule's alpha-bar (T). */
  constructor(device: GPUDevice, images: Float32Array, count: number, shape: readonly [number, number, number], abar: Float64Array, batch: number) {
    const scope = this.owner.open();
    try {
      this.x = createTensor(device, [batch, ...shape], 'ideal.x');
      this.t = createTensor(device, [batch], 'ideal.t');
      this.x0 = createTensor(device, [batch, ...shape], 'ideal.x0');
      this.eps = createTensor(device, [batch, ...shape], 'ideal.eps');
      const data = createTensorFrom(device, [count, ...shape], images, 'ideal.data');
      const table = createTensorFrom(device, [abar.length], Float32Array.from(abar), 'ideal.abar');
      this.forward = idealDenoiser(device, { x: this.x, t: this.t, abar: table, data, x0: this.x0, eps: this.eps, label: 'ideal' });
      scope.keep();
    } finally {
      scope.close();
    }
  }

  at(): { forward: Dispatch[]; eps: Tensor } {
    return { forward: this.forward, eps: this.eps };
  }

  destroy(): void {
    this.owner.destroy();
  }
}
