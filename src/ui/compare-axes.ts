// The comparison grid's axes (AUTOMATIC1111's X/Y plot): one seed, a setting varied along the rows
// and another along the columns. Each axis is a setting and a comma-separated list of its values,
// checked here so the grid never starts a chain it would refuse half-way.
import { SAMPLERS } from '../diffusion/samplers';
import { SKIP_TYPES } from '../diffusion/timesteps';
import type { SampleSettings } from '../worker/api';
import { etaOf, integerIn } from './sample-link';

export type AxisKey = 'steps' | 'eta' | 'sampler' | 'skip' | 'clipX0';

export const AXES: { key: AxisKey; label: string; defaults: string }[] = [
  { key: 'steps', label: 'steps', defaults: '5, 10, 20' },
  { key: 'eta', label: 'eta', defaults: '0, 0.5, 1' },
  { key: 'sampler', label: 'sampler', defaults: SAMPLERS.join(', ') },
  { key: 'skip', label: 'skip', defaults: SKIP_TYPES.join(', ') },
  { key: 'clipX0', label: 'Clip x0', defaults: 'off, on' },
];

export type AxisValue = number | string | boolean;

/** The values of one axis, parsed and checked; `T` is the model's number of timesteps. */
export function parseAxis(key: AxisKey, text: string, T: number): AxisValue[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new Error(`${key}: give at least one value`);
  const values = items.map((item): AxisValue => {
    switch (key) {
      case 'steps': {
        const v = integerIn(item, 1, T);
        if (v === undefined) throw new Error(`steps: "${item}" is not an integer in [1, ${T}]`);
        return v;
      }
      case 'eta': {
        const v = etaOf(item);
        if (v === undefined) throw new Error(`eta: "${item}" is not a number in [0, 1]`);
        return v;
      }
      case 'sampler':
        if (!(SAMPLERS as readonly string[]).includes(item)) throw new Error(`sampler: "${item}" is not one of ${SAMPLERS.join(', ')}`);
        return item;
      case 'skip':
        if (!(SKIP_TYPES as readonly string[]).includes(item)) throw new Error(`skip: "${item}" is not one of ${SKIP_TYPES.join(', ')}`);
        return item;
      case 'clipX0':
        if (item !== 'on' && item !== 'off') throw new Error(`Clip x0: "${item}" is not on or off`);
        return item === 'on';
    }
  });
  return [...new Map(values.map((v) => [String(v), v])).values()];
}

/** The settings of one cell: the base with the row's and the column's values, one sample. */
export function cellSettings(base: SampleSettings, row: [AxisKey, AxisValue], col: [AxisKey, AxisValue]): SampleSettings {
  return { ...base, [row[0]]: row[1], [col[0]]: col[1], batch: 1, previews: false };
}

export function formatValue(key: AxisKey, v: AxisValue): string {
  return key === 'clipX0' ? `clip ${v ? 'on' : 'off'}` : key === 'eta' ? `eta ${v}` : key === 'steps' ? `${v} steps` : String(v);
}
