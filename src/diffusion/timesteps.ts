// Timestep sequences for sampling with fewer steps than training (ascending; the sampler walks them
// from the end). `uniform` and `quad` are the DDIM reference's `skip_type`s; `leading`, `trailing`
// and `linspace` are diffusers' `timestep_spacing` options.

import { linspace } from './schedule';

export type SkipType = 'uniform' | 'quad' | 'leading' | 'trailing' | 'linspace';
export const SKIP_TYPES: readonly SkipType[] = ['uniform', 'quad', 'leading', 'trailing', 'linspace'];

/** numpy.round: halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function timestepSequence(skip: SkipType, steps: number, T: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new Error(`timesteps: steps must be an integer in [1, ${T}], got ${steps}`);
  switch (skip) {
    case 'uniform': {
      // range(0, T, T // steps): may hold more than `steps` entries when steps does not divide T, as in the reference.
      const stride = Math.floor(T / steps);
      return Array.from({ length: Math.ceil(T / stride) }, (_, i) => i * stride);
    }
    case 'quad':
      return linspace(0, Math.sqrt(T * 0.8), steps).map((x) => Math.floor(x * x));
    case 'leading': {
      const ratio = Math.floor(T / steps);
      return Array.from({ length: steps }, (_, i) => i * ratio);
    }
    case 'trailing': {
      // np.round(np.arange(T, 0, -T / steps)) - 1, ascending
      const out: number[] = [];
      for (let v = T; v > 0 && out.length < steps; v -= T / steps) out.push(roundHalfEven(v) - 1);
      return out.reverse();
    }
    case 'linspace':
      return linspace(0, T - 1, steps).map(roundHalfEven);
    default:
      throw new Error(`timesteps: unknown skip type "${String(skip)}" (expected one of ${SKIP_TYPES.join(', ')})`);
  }
}

/** Validates an explicit sequence: integers in [0, T), strictly ascending. */
export function checkSequence(seq: readonly number[], T: number, source: string): number[] {
  if (seq.length === 0) throw new Error(`${source}: the timestep sequence is empty`);
  seq.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`${source}: timestep ${t} at index ${i} is not an integer in [0, ${T})`);
    if (i > 0 && t <= seq[i - 1]!) throw new Error(`${source}: timesteps must be strictly ascending (index ${i}: ${seq[i - 1]} then ${t})`);
  });
  return [...seq];
}

/** What a chain runs, in words, noisiest first: "4 steps: t = 999, 666, 333, 0" (long chains elided:
 *  the first four, then the last two). The reference's uniform skip can run more steps than asked. */
export function describeChain(seq: readonly number[]): string {
  const ts = [...seq].reverse();
  const shown = ts.length <= 8 ? ts.join(', ') : `${ts.slice(0, 4).join(', ')}, …, ${ts.slice(-2).join(', ')}`;
  return `${ts.length} step${ts.length === 1 ? '' : 's'}: t = ${shown}`;
}
