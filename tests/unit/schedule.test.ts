// Beta schedules and alpha-bar vs shared/reference/schedules.json.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BETA_SCHEDULES, alphaBarAt, alphaBars, betaSchedule } from '../../src/diffusion/schedule';

const golden = JSON.parse(readFileSync(new URL('../../../shared/reference/schedules.json', import.meta.url), 'utf8')) as {
  T: number; beta_start: number; beta_end: number;
  betas: Record<string, Record<string, number>>; alpha_bar_at: Record<string, Record<string, number>>;
};

const recipe = JSON.parse(readFileSync(new URL('../fixtures/recipe.json', import.meta.url), 'utf8')) as {
  cosine: Record<string, { t: number[]; betas: number[]; alpha_bar: number[] }>;
};

describe('beta schedules', () => {
  for (const name of BETA_SCHEDULES.filter((n) => n in golden.betas)) {
    it(`${name} matches the reference betas and alpha-bar`, () => {
      const betas = betaSchedule({ beta_schedule: name, beta_start: golden.beta_start, beta_end: golden.beta_end, num_diffusion_timesteps: golden.T });
      const abar = alphaBars(betas);
      for (const [t, b] of Object.entries(golden.betas[name]!)) expect(betas[Number(t)]).toBeCloseTo(b, 12);
      for (const [t, a] of Object.entries(golden.alpha_bar_at[name]!)) expect(Math.abs(alphaBarAt(abar, Number(t)) - a)).toBeLessThanOrEqual(1e-12 + 1e-9 * a);
    });
  }
  it('cosine (Nichol & Dhariwal) matches tools/train_torch.py at T = 1000 and T = 50', () => {
    expect(BETA_SCHEDULES).toContain('cosine');
    for (const [T, want] of Object.entries(recipe.cosine)) {
      const betas = betaSchedule({ beta_schedule: 'cosine', beta_start: 0, beta_end: 0, num_diffusion_timesteps: Number(T) });
      const abar = alphaBars(betas);
      want.t.forEach((t, i) => {
        expect(Math.abs(betas[t]! - want.betas[i]!)).toBeLessThanOrEqual(1e-12 + 1e-9 * want.betas[i]!);
        expect(Math.abs(abar[t]! - want.alpha_bar[i]!)).toBeLessThanOrEqual(1e-15 + 1e-9 * want.alpha_bar[i]!);
      });
      expect(betas[Number(T) - 1]).toBe(0.999); // the cap
    }
  });

  it('gives alpha-bar 1 at t = -1 and rejects timesteps out of range', () => {
    const abar = alphaBars(betaSchedule({ beta_schedule: 'linear', beta_start: 1e-4, beta_end: 0.02, num_diffusion_timesteps: 10 }));
    expect(alphaBarAt(abar, -1)).toBe(1);
    expect(() => alphaBarAt(abar, 10)).toThrow(/timestep 10 outside \[-1, 10\)/);
  });
});
