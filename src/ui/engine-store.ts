// The page's view of the engine: the comlink handle, adapter info, the model list, and the one long
// job the worker runs: which job, started from which tab, its progress (rate and ETA from the
// worker), a Stop or Pause asked and not yet landed, and the jobs queued after it. A job started
// while another runs asks first (stop the other, queue, or cancel): never silently refused. Errors
// and notes belong to the tab that started the job. Components observe the store through
// StoreController, so every tab re-renders when it changes.
import type { Remote } from 'comlink';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { formatDuration, formatRate } from '../app/progress';
import { STOPPED, type EngineApi, type EngineInfo, type GpuEvent, type Job, type JobEvent, type ModelEntry } from '../worker/api';

export type TabId = 'sample' | 'denoise' | 'train' | 'research' | 'models';
export const TABS: readonly [TabId, string][] = [['sample', 'Sample'], ['denoise', 'Denoise'], ['train', 'Train'], ['research', 'Research'], ['models', 'Models']];

export function tabName(tab: TabId): string {
  return TABS.find(([id]) => id === tab)![1];
}

export interface RunningJob {
  job: Job;
  /** The tab that started it: its Stop acts on it, its errors show there. */
  tab: TabId;
  /** The worker's latest report (absent until the first arrives). */
  progress: JobEvent | undefined;
  /** When it started and when the latest report came (performance.now()), for the clock between reports. */
  startedAt: number;
  receivedAt: number;
  /** Stop or Pause asked: shown at once, landing at the job's next step boundary. */
  request: 'stop' | 'pause' | undefined;
  /** The units done when it was asked (the step it lands after is the next one, not one past each later report). */
  requestedAt?: number;
}

/**
 * The job's state in words at page time `now`: "step 12 of 50 · t = 500 · 1.2 steps/s · ETA 31 s",
 * the ETA counting down between the worker's reports; or its Stop/Pause acknowledged.
 */
export function jobStatus(c: RunningJob, now: number = performance.now()): string {
  const p = c.progress;
  const since = (now - c.receivedAt) / 1000;
  if (!p || p.rate === undefined) {
    if (c.request) return c.request === 'stop' ? 'stopping…' : 'pausing…';
    return `starting (${formatDuration((now - c.startedAt) / 1000)}): ${p?.detail ?? 'preparing the model and compiling its kernels'}…`;
  }
  const unit = p.unit;
  if (c.request) {
    // The unit in flight when it was asked, or a later one a report has already counted (a chunk of several).
    const after = Math.min(p.total, Math.max(p.done, (c.requestedAt ?? p.done) + 1));
    return `${c.request === 'stop' ? 'stopping' : 'pausing'} after ${unit} ${after} of ${p.total}…`;
  }
  const parts = [`${unit} ${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')}`];
  if (p.detail) parts.push(p.detail);
  // While the job works between units (a checkpoint, a preview), the ETA waits with the units.
  const eta = formatDuration(Math.max(0, (p.etaSeconds ?? 0) - (p.between ? 0 : since)));
  // One unit measured, start-up included: an upper bound, and no rate worth showing yet.
  if (p.provisional) parts.push(`ETA ≤ ${eta} (the first ${unit} included start-up)`);
  else parts.push(formatRate(p.rate, unit), `ETA ${eta}`);
  return parts.join(' · ');
}

export type ConflictChoice = 'stop' | 'queue' | 'cancel';

/** A job asked for while another runs: the page asks what to do. */
export interface JobConflict {
  running: RunningJob;
  wanted: { job: Job; tab: TabId };
  answer(choice: ConflictChoice): void;
}

interface Queued {
  job: Job;
  tab: TabId;
  start: () => void;
  cancel: () => void;
}

export class EngineStore extends EventTarget {
  info: EngineInfo | undefined;
  models: ModelEntry[] = [];
  /** The long job running in the worker, if any. */
  current: RunningJob | undefined;
  /** Jobs waiting for the current one to end, in order. */
  queued: readonly { job: Job; tab: TabId }[] = [];
  /** The question asked while a job runs and another is started. */
  conflict: JobConflict | undefined;
  /** What the GPU did that the page must say (a loss, the reconnection, an uncaught error), newest last. */
  gpuNotices: GpuEvent[] = [];
  private readonly errors = new Map<TabId, string>();
  private readonly notes = new Map<TabId, string>();
  private readonly waiting: Queued[] = [];
  private selectedId: string | undefined;

  constructor(readonly engine: Remote<EngineApi>) {
    super();
  }

  /** The model the Sample and Denoise tabs use (the first, the bundled one, until one is picked). */
  get selected(): ModelEntry | undefined {
    return this.models.find((m) => m.id === this.selectedId) ?? this.models[0];
  }

  select(id: string): void {
    this.selectedId = id;
    this.changed();
  }

  changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  /** Called by the worker (through a comlink proxy) when the GPU is lost, reconnects or reports an error. */
  gpuEvent(e: GpuEvent): void {
    this.gpuNotices = [...this.gpuNotices, e].slice(-3);
    this.changed();
  }

  dismissGpuNotices(): void {
    this.gpuNotices = [];
    this.changed();
  }

  /** Called by the worker (through a comlink proxy) as the running job goes. */
  jobEvent(e: JobEvent): void {
    if (this.current?.job !== e.job || e.phase === 'ended') return;
    this.current = { ...this.current, progress: e, receivedAt: performance.now() };
    this.changed();
  }

  async refreshModels(): Promise<void> {
    this.models = await this.engine.listModels();
    this.changed();
  }

  /** The last error of a job started from `tab` (cleared when it starts another). */
  errorOf(tab: TabId): string | undefined {
    return this.errors.get(tab);
  }

  /** A tab's error set by the tab itself (a failed read of the worker's data). */
  setError(tab: TabId, message: string | undefined): void {
    if (message === undefined) this.errors.delete(tab);
    else this.errors.set(tab, message);
    this.changed();
  }

  /** How the last job of `tab` ended when that is worth saying (stopped), until it starts another. */
  noteOf(tab: TabId): string | undefined {
    return this.notes.get(tab);
  }

  /** Whether `job` (from any tab) is running. */
  isRunning(job: Job): boolean {
    return this.current?.job === job;
  }

  /** Whether `job` runs, waits in the queue, or waits for the answer to starting it: its buttons stay
   *  disabled until it ends, so one click never queues it twice. */
  isPending(job: Job): boolean {
    return this.pendingWhere((q) => q.job === job);
  }

  /** Whether a job of `tab` runs, waits in the queue, or waits for the answer to starting it. */
  tabPending(tab: TabId): boolean {
    return this.pendingWhere((q) => q.tab === tab);
  }

  /** Whether the running job, a queued one or the one asked about matches. */
  private pendingWhere(match: (q: { job: Job; tab: TabId }) => boolean): boolean {
    return [this.current, ...this.waiting, this.conflict?.wanted].some((q) => q !== undefined && match(q));
  }

  /**
   * Runs a long job for `tab`, keeping `current` and the tab's error current. While another job
   * runs, asks first: stop it and start this one, queue this one after it, or cancel (undefined).
   * Resolves to undefined when the job fails (its error goes to the tab) or Stop ended it first.
   */
  async run<T>(job: Job, tab: TabId, fn: () => Promise<T>): Promise<T | undefined> {
    if (this.current || this.waiting.length) {
      const running = this.current;
      const choice = running ? await this.ask(running, { job, tab }) : 'queue';
      if (choice === 'cancel') return undefined;
      if (choice === 'stop' && running && this.current === running) void this.stop();
      if (!(await this.enqueue(job, tab))) return undefined;
    }
    this.current = { job, tab, progress: undefined, request: undefined, startedAt: performance.now(), receivedAt: performance.now() };
    this.errors.delete(tab);
    this.notes.delete(tab);
    this.changed();
    try {
      return await fn();
    } catch (e) {
      const err = e as Error;
      if (err.name === STOPPED) this.notes.set(tab, `Stopped: ${err.message}.`);
      else this.errors.set(tab, err.message);
      return undefined;
    } finally {
      this.current = undefined;
      this.changed();
      this.next();
    }
  }

  private ask(running: RunningJob, wanted: { job: Job; tab: TabId }): Promise<ConflictChoice> {
    return new Promise((resolve) => {
      // A second question while one is open: the first is cancelled.
      this.conflict?.answer('cancel');
      this.conflict = {
        running, wanted,
        answer: (choice) => {
          if (this.conflict?.wanted === wanted) this.conflict = undefined;
          this.changed();
          resolve(choice);
        },
      };
      this.changed();
    });
  }

  /** Waits for its turn (true), or for a cancel (false). */
  private enqueue(job: Job, tab: TabId): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiting.push({ job, tab, start: () => resolve(true), cancel: () => resolve(false) });
      this.queued = this.waiting.map(({ job: j, tab: t }) => ({ job: j, tab: t }));
      this.changed();
      if (!this.current) this.next();
    });
  }

  private next(): void {
    if (this.current) return;
    const q = this.waiting.shift();
    this.queued = this.waiting.map(({ job, tab }) => ({ job, tab }));
    q?.start();
  }

  /** Takes the queued job at `index` out of the queue (its start resolves to undefined). */
  unqueue(index: number): void {
    const [q] = this.waiting.splice(index, 1);
    this.queued = this.waiting.map(({ job, tab }) => ({ job, tab }));
    q?.cancel();
    this.changed();
  }

  /** Stops the running job after its current step; the page shows "stopping" until it ends. */
  async stop(): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.current = { ...c, request: 'stop', requestedAt: c.requestedAt ?? c.progress?.done };
    this.changed();
    await this.engine.stop(c.job);
  }

  /** Pauses training after its current step (and saves a checkpoint); shown as "pausing" until it lands. */
  async pause(): Promise<void> {
    const c = this.current;
    if (c?.job !== 'training') return;
    this.current = { ...c, request: 'pause', requestedAt: c.progress?.done };
    this.changed();
    await this.engine.pause();
  }
}

/** Re-renders its host whenever the store changes. */
export class StoreController implements ReactiveController {
  private readonly onChange = (): void => this.host.requestUpdate();

  constructor(private readonly host: ReactiveControllerHost, private readonly store: () => EngineStore | undefined) {
    host.addController(this);
  }

  private bound: EngineStore | undefined;

  hostConnected(): void {
    this.bind();
  }

  hostUpdate(): void {
    this.bind();
  }

  hostDisconnected(): void {
    this.bound?.removeEventListener('change', this.onChange);
    this.bound = undefined;
  }

  private bind(): void {
    const s = this.store();
    if (s === this.bound) return;
    this.bound?.removeEventListener('change', this.onChange);
    s?.addEventListener('change', this.onChange);
    this.bound = s;
  }
}
