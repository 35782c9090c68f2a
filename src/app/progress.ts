// How far a long job is and when it will end, the same for every job of the page (sampling,
// training, denoise, inversion, the comparison grid, the research experiments) and for `ddim train`:
// units done of a total, the rate measured from the job's own progress, and the time left at that
// rate. The rate is taken from the first finished unit on, so start-up (pipeline compilation, data
// loading, the first submit) does not count against the steps; until a second unit lands, the one
// measurement there is (the first unit, start-up included) gives a provisional estimate, an upper
// bound that the page and the CLI show as such. A job that starts part-way (a resumed training run)
// counts from where its first report says it is. Time the job spends between units on something else
// (a training run's checkpoint and preview: `hold` ... `release`) is left out of the rate, which is the
// units' own, and kept in the ETA, which spreads it over the units left as it was spread so far.

export interface ProgressReading {
  done: number;
  total: number;
  /** What a unit is, singular ("step", "evaluation", "image"). */
  unit: string;
  /** Units per second; absent until one unit is done (since the job started). */
  rate?: number;
  /** Seconds left at `rate`; absent until one unit is done. */
  etaSeconds?: number;
  /** The rate comes from the first unit alone, start-up included: slower than the steps will be,
   *  so `etaSeconds` is an upper bound (true until a second unit is done). */
  provisional?: boolean;
  elapsedSeconds: number;
}

export class ProgressMeter {
  private readonly started: number;
  /** Units done when the job started (its first report's). */
  private base: number | undefined;
  /** The first report with a unit done since the start: where the steady rate is measured from. */
  private first: { done: number; at: number } | undefined;
  private last: ProgressReading;
  /** Milliseconds held since the steady rate's first unit, and when the current hold began. */
  private held = 0;
  private holdingSince: number | undefined;

  constructor(total: number, readonly unit: string, now: number = performance.now()) {
    this.started = now;
    this.last = { done: 0, total, unit, elapsedSeconds: 0 };
  }

  /** The job turns to other work (between units) at `now`: that time is not the units'. */
  hold(now: number = performance.now()): void {
    this.holdingSince ??= now;
  }

  /** The other work ends at `now`. */
  release(now: number = performance.now()): void {
    if (this.holdingSince === undefined) return;
    if (this.first) this.held += now - Math.max(this.holdingSince, this.first.at);
    this.holdingSince = undefined;
  }

  /** Records `done` of `total` units at `now` (ms) and returns the reading. */
  update(done: number, total: number = this.last.total, now: number = performance.now()): ProgressReading {
    const elapsedSeconds = (now - this.started) / 1000;
    this.base ??= done;
    let rate: number | undefined, perUnit: number | undefined, provisional = false;
    if (done > this.base) {
      if (!this.first) this.first = { done, at: now };
      const steady = done - this.first.done;
      const working = now - this.first.at - this.held;
      if (steady > 0 && working > 0) [rate, perUnit] = [(steady * 1000) / working, (now - this.first.at) / 1000 / steady];
      else if (elapsedSeconds > 0) [rate, provisional] = [(done - this.base) / elapsedSeconds, true];
    }
    this.last = {
      done, total, unit: this.unit, elapsedSeconds,
      ...(rate !== undefined ? { rate, etaSeconds: Math.max(0, total - done) * (perUnit ?? 1 / rate) } : {}),
      ...(provisional ? { provisional } : {}),
    };
    return this.last;
  }

  get reading(): ProgressReading {
    return this.last;
  }
}

/** A duration for people: "45 s", "3 min 20 s", "2 h 05 min", "3.5 days". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${(s / 86400).toFixed(1)} days`;
}

/** A rate for people: "12.3 steps/s", or "38 s/step" when a unit takes longer than a second. */
export function formatRate(rate: number, unit: string): string {
  if (!(rate > 0)) return `— ${unit}s/s`;
  if (rate >= 1) return `${rate >= 100 ? rate.toFixed(0) : rate.toPrecision(3)} ${unit}s/s`;
  const per = 1 / rate;
  return `${per >= 100 ? per.toFixed(0) : per.toPrecision(3)} s/${unit}`;
}

/** A count for people: "1 sample", "3 samples", "3,408 images". */
export function countOf(n: number, unit: string): string {
  return `${n.toLocaleString('en-US')} ${unit}${n === 1 ? '' : 's'}`;
}
