// What every part of the worker's engine shares: the GPUDevice (acquired on first use, dropped and
// reacquired after a loss), the one-long-job-at-a-time rule with its typed busy state, the progress
// of that job (sent to the page with its rate and ETA) and its Stop, and the transfer of pixels to
// the page. The concerns (models, sampling, training, images, research: the *-api.ts modules) are
// built over one WorkerCore; engine.ts joins them.
import { transfer } from 'comlink';
import { ProgressMeter } from '../app/progress';
import { acquireDevice } from '../gpu/device';
import type { PrecisionRequest } from '../gpu/tier';
import { removeOrphanWeights } from '../store/models';
import * as runs from '../store/runs';
import { JOBS, STOPPED, type EngineCore, type EngineInfo, type GpuEvent, type Job, type JobEvent, type Pixels } from './api';

/** Progress events go to the page at most this often (the first and the last always). */
const REPORT_MS = 100;

/** What a running job reports through: its progress, and whether Stop was asked. */
export interface JobContext {
  /** `done` of `total` units (the unit was named when the job started); `detail` says what it does now. */
  progress(done: number, total?: number, detail?: string): void;
  readonly stopped: boolean;
  /** Ends a job that has no partial result to give when Stop was asked (the page says "stopped"). */
  checkStop(): void;
  /** Runs `work` between units (a checkpoint, a preview), saying `what` meanwhile: its time is left
   *  out of the units' rate (ProgressMeter.hold), and the page's ETA waits while it runs. */
  between<T>(what: string, work: () => Promise<T>): Promise<T>;
}

/**
 * runChain's onStep for a job's chain: waits for the step on the GPU (so the count and Stop are per
 * step), counts it after `offset` units of the job's earlier phases, and ends the job on Stop.
 */
export function chainSteps(device: GPUDevice, job: JobContext, offset = 0): (k: number) => Promise<void> {
  return async (k) => {
    await device.queue.onSubmittedWorkDone();
    job.progress(offset + k + 1);
    job.checkStop();
  };
}

/** The error a stopped job ends with; comlink keeps its name across the worker boundary. */
export function stoppedError(job: Job): Error {
  const e = new Error(`${JOBS[job]} stopped`);
  e.name = STOPPED;
  return e;
}

/** Pixels cross to the page by transfer, not copy. */
export function sendPixels<T extends object>(value: T, pixels: Pixels[]): T {
  return transfer(value, pixels.map((p) => p.rgba.buffer as ArrayBuffer));
}

interface DeviceState {
  device: GPUDevice;
  info: EngineInfo;
}

export class WorkerCore implements EngineCore {
  /** The live device; undefined after a loss until the next acquisition. */
  private state: DeviceState | undefined;
  private acquiring: Promise<DeviceState> | undefined;
  /** The tier the page asked for (?precision=), kept for a reacquisition after a device loss. */
  private precision: PrecisionRequest = 'auto';
  private onGpuEvent: ((e: GpuEvent) => void) | undefined;
  private onJob: ((e: JobEvent) => void) | undefined;
  private cleaned: Promise<number[]> | undefined;
  private running: Job | undefined;
  private stopRequested = false;
  /** What the concerns drop when the device is lost (everything they built on it) and do on Stop. */
  private readonly lossHooks: (() => void)[] = [];
  private readonly stopHooks: (() => void)[] = [];

  async init(onGpuEvent?: (e: GpuEvent) => void, onJob?: (e: JobEvent) => void, precision?: PrecisionRequest): Promise<EngineInfo> {
    if (precision) this.precision = precision;
    if (onGpuEvent) this.onGpuEvent = onGpuEvent;
    if (onJob) this.onJob = onJob;
    // Once per worker: weights and checkpoints a crash left without an entry take space for nothing.
    this.cleaned ??= Promise.all([removeOrphanWeights(), runs.removeOrphanCheckpoints()]).catch(() => [0, 0]);
    return (await this.current()).info;
  }

  /** The live device, (re)acquired when there is none: after a loss the next job rebuilds what it needs. */
  async gpu(): Promise<GPUDevice> {
    return (await this.current()).device;
  }

  /** `drop` runs when the device is lost (free what lived on it); `stop` when the page asks to stop. */
  onDeviceLost(drop: () => void): void {
    this.lossHooks.push(drop);
  }

  onStop(stop: () => void): void {
    this.stopHooks.push(stop);
  }

  private current(): Promise<DeviceState> {
    if (this.state) return Promise.resolve(this.state);
    this.acquiring ??= this.acquire().finally(() => (this.acquiring = undefined));
    return this.acquiring;
  }

  private async acquire(): Promise<DeviceState> {
    // A tier this adapter cannot run (a link made on another machine) falls back to auto, saying why.
    let tierNote: string | undefined;
    const acquired = await acquireDevice(navigator.gpu, { precision: this.precision }).catch((e: unknown) => {
      if (this.precision === 'auto' || !(e as Error).message.startsWith('precision ')) throw e;
      tierNote = (e as Error).message;
      return acquireDevice(navigator.gpu);
    });
    const { device, adapterName, tier } = acquired;
    // Validation and out-of-memory errors nobody scoped would otherwise be silent in a page.
    device.addEventListener('uncapturederror', (ev) => this.onGpuEvent?.({ kind: 'error', message: `GPU error: ${(ev as GPUUncapturedErrorEvent).error.message}` }));
    void device.lost.then((info) => this.deviceLost(device, info));
    this.state = { device, info: { adapter: adapterName, tier, ...(tierNote ? { tierNote } : {}), maxBufferSize: device.limits.maxBufferSize, maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize } };
    return this.state;
  }

  /** Forgets everything built on the lost device, tells the page, and reconnects. */
  private deviceLost(device: GPUDevice, lost: GPUDeviceLostInfo): void {
    if (this.state?.device !== device) return;
    this.state = undefined;
    for (const drop of this.lossHooks) drop();
    this.onGpuEvent?.({ kind: 'lost', message: `The GPU device was lost (${lost.reason || 'unknown'}${lost.message ? `: ${lost.message}` : ''}); a running job stopped.` });
    this.current().then(
      (s) => this.onGpuEvent?.({ kind: 'restored', message: `The engine reconnected to ${s.info.adapter}. An interrupted training run resumes from its last checkpoint (Resume).` }),
      (e: unknown) => this.onGpuEvent?.({ kind: 'lost', message: `The GPU device was lost and could not be reacquired: ${(e as Error).message}` }),
    );
  }

  async loseDevice(): Promise<void> {
    (await this.gpu()).destroy();
  }

  /** The long job running now, if any. */
  get busy(): Job | undefined {
    return this.running;
  }

  /**
   * Runs one long job at a time (a second is refused with what is running), counting `unit`s of
   * `total` (a first guess the job may correct) through its JobContext; the page hears of its start,
   * its progress with rate and ETA, and its end.
   */
  async exclusive<T>(what: Job, unit: string, total: number, job: (ctx: JobContext) => Promise<T>): Promise<T> {
    if (this.running) throw new Error(`the engine is busy with ${JOBS[this.running]}; stop it first`);
    this.running = what;
    this.stopRequested = false;
    const meter = new ProgressMeter(total, unit);
    let sent = -Infinity, detail: string | undefined, between = false;
    const send = (phase: JobEvent['phase']): void => {
      sent = performance.now();
      this.onJob?.({ ...meter.reading, job: what, phase, ...(detail !== undefined ? { detail } : {}), ...(between ? { between } : {}) });
    };
    const isStopped = (): boolean => this.stopRequested;
    const ctx: JobContext = {
      progress: (done, n, d) => {
        const reading = meter.update(done, n);
        // A new phase ("arm tiny") is said at once, not at the next report.
        const phase = d !== undefined && d !== detail;
        if (d !== undefined) detail = d;
        if (phase || performance.now() - sent >= REPORT_MS || reading.done >= reading.total) send('running');
      },
      get stopped() {
        return isStopped();
      },
      checkStop: () => {
        if (this.stopRequested) throw stoppedError(what);
      },
      between: async (doing, work) => {
        const before = detail;
        [detail, between] = [doing, true];
        meter.hold();
        send('running');
        try {
          return await work();
        } finally {
          meter.release();
          [detail, between] = [before, false];
          send('running');
        }
      },
    };
    send('running');
    try {
      return await job(ctx);
    } finally {
      this.running = undefined;
      send('ended');
    }
  }

  async stop(job: Job): Promise<boolean> {
    if (this.running !== job) return false;
    this.stopRequested = true;
    for (const stop of this.stopHooks) stop();
    return true;
  }

  async storage(): Promise<{ usage: number; quota: number; persisted: boolean }> {
    const persisted = (await navigator.storage?.persisted?.()) ?? false;
    const est = (await navigator.storage?.estimate?.()) ?? {};
    return { usage: est.usage ?? 0, quota: est.quota ?? 0, persisted };
  }
}
