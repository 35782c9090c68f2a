// The studio's long jobs on the page's side (ui/engine-store.ts) and their progress (app/progress.ts):
// one job at a time with the tab it belongs to; a second asks (stop the first, queue, or cancel)
// and never starts silently; Stop and Pause are acknowledged at once; a stopped job is a note, not
// an error; errors go to the tab that started the job; the rate and ETA come from the job's own
// steps, start-up excluded; the words the job panel shows.
import type { Remote } from 'comlink';
import { describe, expect, it } from 'vitest';
import { ProgressMeter, formatDuration, formatRate } from '../../src/app/progress';
import { EngineStore, jobStatus, type RunningJob } from '../../src/ui/engine-store';
import { STOPPED, type EngineApi, type Job, type JobEvent } from '../../src/worker/api';

/** The engine's calls the store makes, recorded. */
function fakeEngine(): { engine: Remote<EngineApi>; calls: string[] } {
  const calls: string[] = [];
  const engine = {
    stop: async (job: Job) => (calls.push(`stop ${job}`), true),
    pause: async () => void calls.push('pause'),
  } as unknown as Remote<EngineApi>;
  return { engine, calls };
}

/** A job the test ends by hand. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void, reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('the page\'s jobs', () => {
  it('runs one job for its tab, shows its progress, and clears it at the end', async () => {
    const { engine } = fakeEngine();
    const store = new EngineStore(engine);
    const job = deferred<string>();
    const result = store.run('training', 'train', () => job.promise);
    expect(store.current).toMatchObject({ job: 'training', tab: 'train', request: undefined });
    const event: JobEvent = { job: 'training', phase: 'running', done: 3, total: 10, unit: 'step', elapsedSeconds: 2, rate: 1.5, etaSeconds: 4.7 };
    store.jobEvent(event);
    store.jobEvent({ ...event, job: 'sampling' }); // not the running job: ignored
    expect(store.current?.progress).toEqual(event);
    job.resolve('done');
    expect(await result).toBe('done');
    expect(store.current).toBeUndefined();
  });

  it('asks before a second job: cancel leaves the first alone, queue runs it after, stop stops the first', async () => {
    const { engine, calls } = fakeEngine();
    const store = new EngineStore(engine);
    const training = deferred<string>();
    const run1 = store.run('training', 'train', () => training.promise);

    // Cancel: nothing starts, nothing stops.
    const cancelled = store.run('sampling', 'sample', async () => 'sampled');
    await tick();
    expect(store.conflict).toMatchObject({ running: { job: 'training', tab: 'train' }, wanted: { job: 'sampling', tab: 'sample' } });
    store.conflict!.answer('cancel');
    expect(await cancelled).toBeUndefined();
    expect(calls).toEqual([]);
    expect(store.current?.job).toBe('training');

    // Queue: it waits for the first, then runs.
    let started = false;
    const queued = store.run('sampling', 'sample', async () => ((started = true), 'sampled'));
    await tick();
    // Asked about, then queued: pending for its buttons either way (a second click would queue it twice).
    expect([store.isPending('sampling'), store.tabPending('sample'), store.isPending('denoising'), store.tabPending('denoise')]).toEqual([true, true, false, false]);
    store.conflict!.answer('queue');
    await tick();
    expect(store.queued).toEqual([{ job: 'sampling', tab: 'sample' }]);
    expect([store.isPending('sampling'), store.tabPending('sample'), store.isRunning('sampling')]).toEqual([true, true, false]);
    expect(started).toBe(false);
    training.resolve('trained');
    expect(await run1).toBe('trained');
    expect(await queued).toBe('sampled');
    expect(started).toBe(true);
    expect(store.queued).toEqual([]);
    expect([store.isPending('sampling'), store.tabPending('sample')]).toEqual([false, false]);

    // Stop: the first is asked to stop (acknowledged at once), the second runs when it has.
    const denoise = deferred<string>();
    const run2 = store.run('denoising', 'denoise', () => denoise.promise);
    const after = store.run('oneShot', 'research', async () => 'measured');
    await tick();
    store.conflict!.answer('stop');
    await tick();
    expect(calls).toEqual(['stop denoising']);
    expect(store.current).toMatchObject({ job: 'denoising', request: 'stop' });
    const stopped = new Error('denoising stopped');
    stopped.name = STOPPED;
    denoise.reject(stopped);
    expect(await run2).toBeUndefined();
    expect(store.noteOf('denoise')).toBe('Stopped: denoising stopped.');
    expect(store.errorOf('denoise')).toBeUndefined();
    expect(await after).toBe('measured');
  });

  it('keeps a failure with the tab that started the job, and clears it when that tab starts another', async () => {
    const store = new EngineStore(fakeEngine().engine);
    await store.run('denoising', 'denoise', async () => {
      throw new Error('t must be an integer in [0, 1000), got 1200');
    });
    expect(store.errorOf('denoise')).toMatch(/got 1200/);
    expect(store.errorOf('sample')).toBeUndefined();
    await store.run('denoising', 'denoise', async () => 'ok');
    expect(store.errorOf('denoise')).toBeUndefined();
  });

  it('acknowledges Pause at once, for training only', async () => {
    const { engine, calls } = fakeEngine();
    const store = new EngineStore(engine);
    const job = deferred<void>();
    const run = store.run('sampling', 'sample', () => job.promise);
    await store.pause();
    expect(calls).toEqual([]);
    job.resolve();
    await run;
    const training = deferred<void>();
    const run2 = store.run('training', 'train', () => training.promise);
    await store.pause();
    expect(calls).toEqual(['pause']);
    expect(store.current?.request).toBe('pause');
    training.resolve();
    await run2;
  });
});

describe('progress, rate and ETA', () => {
  it('measures the rate from the first finished unit on, so start-up does not count', () => {
    const m = new ProgressMeter(10, 'step', 0);
    expect(m.update(0, 10, 5000)).toEqual({ done: 0, total: 10, unit: 'step', elapsedSeconds: 5 });
    // The first step lands after 8 s of start-up: a provisional estimate from it alone, an upper bound.
    const first = m.update(1, 10, 8000);
    expect(first.rate).toBeCloseTo(1 / 8, 12);
    expect(first.etaSeconds).toBeCloseTo(72, 9);
    expect(first.provisional).toBe(true);
    // Then 2 more steps in 1 s: 2 steps/s, 3.5 s left for 7 steps, no longer provisional.
    const later = m.update(3, 10, 9000);
    expect(later.rate).toBeCloseTo(2, 12);
    expect(later.etaSeconds).toBeCloseTo(3.5, 9);
    expect(later.elapsedSeconds).toBe(9);
    expect(later.provisional).toBeUndefined();
  });

  it('leaves the time between units (a checkpoint, a preview) out of the rate, and spreads it over the ETA', () => {
    const m = new ProgressMeter(10, 'step', 0);
    m.update(0, 10, 0);
    m.update(1, 10, 1000);
    m.update(2, 10, 2000);
    // Step 2 is followed by a preview of 8 s; steps 3 and 4 then take 1 s each.
    m.hold(2000);
    m.release(10_000);
    const r = m.update(4, 10, 12_000);
    expect(r.rate).toBeCloseTo(1, 12); // steps/s of the steps themselves
    expect(r.etaSeconds).toBeCloseTo(6 * (11 / 3), 9); // 11 s for 3 steps so far, the preview included
    // A hold that began before the steady rate's first unit counts from that unit.
    const n = new ProgressMeter(10, 'step', 0);
    n.update(0, 10, 0);
    n.hold(0);
    n.update(1, 10, 5000);
    n.release(6000);
    expect(n.update(2, 10, 7000).rate).toBeCloseTo(1, 12);
  });

  it('writes durations and rates for people', () => {
    expect([formatDuration(4.4), formatDuration(75), formatDuration(3 * 3600 + 5 * 60 + 9), formatDuration(5 * 86400)]).toEqual(['4 s', '1 min 15 s', '3 h 05 min', '5.0 days']);
    expect([formatRate(12.34, 'step'), formatRate(250, 'step'), formatRate(0.25, 'step')]).toEqual(['12.3 steps/s', '250 steps/s', '4.00 s/step']);
  });

  it('says what the job does, its ETA counting down between reports, and a Stop or Pause asked', () => {
    const progress: JobEvent = { job: 'sampling', phase: 'running', done: 12, total: 50, unit: 'step', elapsedSeconds: 20, detail: 't = 760', rate: 0.5, etaSeconds: 76 };
    const c: RunningJob = { job: 'sampling', tab: 'sample', progress, request: undefined, startedAt: 0, receivedAt: 20_000 };
    expect(jobStatus(c, 20_000)).toBe('step 12 of 50 · t = 760 · 2.00 s/step · ETA 1 min 16 s');
    expect(jobStatus(c, 30_000)).toBe('step 12 of 50 · t = 760 · 2.00 s/step · ETA 1 min 06 s');
    // Between units (a preview) the ETA waits with the steps.
    const between: RunningJob = { ...c, job: 'training', progress: { ...progress, detail: 'drawing the EMA preview', between: true } };
    expect(jobStatus(between, 30_000)).toBe('step 12 of 50 · drawing the EMA preview · 2.00 s/step · ETA 1 min 16 s');
    expect(jobStatus({ ...c, request: 'stop' }, 30_000)).toBe('stopping after step 13 of 50…');
    expect(jobStatus({ ...c, job: 'training', request: 'pause', requestedAt: 12 }, 30_000)).toBe('pausing after step 13 of 50…');
    // The report of the step in flight does not move the step the Pause lands after; a chunk that ran past it does.
    const at = (done: number): RunningJob => ({ ...c, job: 'training', request: 'pause', requestedAt: 12, progress: { ...progress, done } });
    expect([jobStatus(at(13), 30_000), jobStatus(at(16), 30_000)]).toEqual(['pausing after step 13 of 50…', 'pausing after step 16 of 50…']);
    // After one step, start-up included: the ETA is an upper bound and no rate is shown.
    expect(jobStatus({ ...c, progress: { ...progress, done: 1, rate: 1 / 8, etaSeconds: 392, provisional: true } }, 20_000))
      .toBe('step 1 of 50 · t = 760 · ETA ≤ 6 min 32 s (the first step included start-up)');
    expect(jobStatus({ ...c, progress: undefined }, 3_000)).toBe('starting (3 s): preparing the model and compiling its kernels…');
    // Counts in the thousands are grouped, as the cost lines write them.
    expect(jobStatus({ ...c, job: 'firstStep', progress: { ...progress, unit: 'evaluation', done: 1280, total: 36_864, detail: undefined } }, 20_000))
      .toMatch(/^evaluation 1,280 of 36,864 · /);
  });
});
