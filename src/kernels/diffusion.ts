// Launcher for shaders/diffusion.wgsl: one reverse diffusion step.
import code from '../../shaders/diffusion.wgsl?raw';
import type { StepCoefficients } from '../diffusion/samplers';
import { grid, makeDispatch, placeholder, type Dispatch, type KernelSource } from '../gpu/kernel';
import { numel, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'diffusion', code };
const FLAG_CLIP = 1;
const FLAG_CLIPPED_EPS = 2;
const FLAG_NOISE = 4;

export interface DenoiseStepArgs {
  xt: Tensor;
  eps: Tensor;
  /** Needed when the step's noise coefficient is not 0. */
  noise?: Tensor;
  xNext: Tensor;
  x0: Tensor;
  coef: StepCoefficients;
  label: string;
}

export function denoiseStep(device: GPUDevice, a: DenoiseStepArgs): Dispatch {
  for (const t of [a.eps, a.xNext, a.x0, ...(a.noise ? [a.noise] : [])]) expectShape(t, a.xt.shape, a.label);
  const k = a.coef;
  if (k.c !== 0 && !a.noise) throw new Error(`${a.label}: step t=${k.t} adds noise (c = ${k.c}) but no noise tensor was given`);
  const flags = (k.clip ? FLAG_CLIP : 0) | (k.useClippedEps ? FLAG_CLIPPED_EPS : 0) | (k.c !== 0 ? FLAG_NOISE : 0);
  const n = numel(a.xt.shape);
  return makeDispatch(device, {
    shader, entry: 'step', label: a.label,
    uniforms: { n, flags, k0: k.k0, k1: k.k1, sqrt_at: k.sqrtAt, sqrt_1m_at: k.sqrt1mAt, a: k.a, b: k.b, c: k.c, d: k.d },
    tensors: [[a.xt, 'read'], [a.eps, 'read'], [k.c !== 0 ? a.noise! : placeholder(device), 'read'], [a.xNext, 'write'], [a.x0, 'write']],
    workgroups: grid(Math.ceil(n / 256)),
  });
}
