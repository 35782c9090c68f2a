// The page's view of the engine: the comlink handle, adapter info, the model list and which long
// job runs. Components observe it through StoreController, so every tab re-renders when it changes.
import type { Remote } from 'comlink';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { EngineApi, EngineInfo, GpuEvent, Job, ModelEntry } from '../worker/api';

export class EngineStore extends EventTarget {
  info: EngineInfo | undefined;
  models: ModelEntry[] = [];
  /** The long job running in the worker, if any. */
  job: Job | undefined;
  error: string | undefined;
  /** What the GPU did that the page must say (a loss, the reconnection, an uncaught error), newest last. */
  gpuNotices: GpuEvent[] = [];
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

  async refreshModels(): Promise<void> {
    this.models = await this.engine.listModels();
    this.changed();
  }

  /** Runs a long job, keeping `job` and `error` current. */
  async run<T>(job: Job, fn: () => Promise<T>): Promise<T | undefined> {
    this.job = job;
    this.error = undefined;
    this.changed();
    try {
      return await fn();
    } catch (e) {
      this.error = (e as Error).message;
      return undefined;
    } finally {
      this.job = undefined;
      this.changed();
    }
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
