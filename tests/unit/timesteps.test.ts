// Timestep sequences vs shared/reference/schedules.json (uniform, quad) and diffusers' spacing rules.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSequence, describeChain, timestepSequence, type SkipType } from '../../src/diffusion/timesteps';

const golden = JSON.parse(readFileSync(new URL('../../../shared/reference/schedules.json', import.meta.url), 'utf8')) as {
  T: number; skip: Record<string, number[]>;
};

describe('timestep sequences', () => {
  for (const [key, seq] of Object.entries(golden.skip)) {
    it(`${key} matches the reference`, () => {
      const [skip, steps] = key.split('/') as [SkipType, string];
      expect(timestepSequence(skip, Number(steps), golden.T)).toEqual(seq);
    });
  }

  it('follows diffusers for leading, trailing and linspace (T = 1000, 10 steps)', () => {
    expect(timestepSequence('leading', 10, 1000)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect(timestepSequence('trailing', 10, 1000)).toEqual([99, 199, 299, 399, 499, 599, 699, 799, 899, 999]);
    expect(timestepSequence('linspace', 10, 1000)).toEqual([0, 111, 222, 333, 444, 555, 666, 777, 888, 999]);
    expect(timestepSequence('trailing', 3, 1000)).toEqual([332, 666, 999]);
  });

  it('rejects bad steps and bad explicit sequences', () => {
    expect(() => timestepSequence('uniform', 0, 1000)).toThrow(/steps must be an integer in \[1, 1000\]/);
    expect(() => checkSequence([0, 500, 500], 1000, 'seq')).toThrow(/strictly ascending \(index 2: 500 then 500\)/);
    expect(() => checkSequence([0, 1000], 1000, 'seq')).toThrow(/timestep 1000 at index 1/);
  });
  it('says what a chain runs: Steps 3 with the uniform skip runs 4 steps', () => {
    expect(describeChain(timestepSequence('uniform', 3, 1000))).toBe('4 steps: t = 999, 666, 333, 0');
    expect(describeChain(timestepSequence('uniform', 50, 1000))).toBe('50 steps: t = 980, 960, 940, 920, …, 20, 0');
    expect(describeChain([0])).toBe('1 step: t = 0');
  });
});
