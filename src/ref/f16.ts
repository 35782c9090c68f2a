// IEEE binary16 rounding on the CPU: the reference for the reduced-precision tiers' GEMM operands
// (shaders/common.wgsl f16_round4), host/f16.ts f16Round applied to tensors.
import { f16Round } from '../host/f16';
import type { HostTensor } from '../host/tensor';

export { f16Round };

/** A copy of `t` with every element rounded to f16 (an operand as the reduced tiers stage it). */
export function f16RoundTensor(t: HostTensor): HostTensor {
  return { shape: [...t.shape], data: t.data.map(f16Round) };
}
