// The engine interface the UI codes against (implemented once, in the worker; reached through comlink).

export interface EngineInfo {
  adapter: string;
  maxStorageBufferBindingSize: number;
}

export interface ForwardTiming {
  config: string;
  batch: number;
  parameters: number;
  /** Median milliseconds per UNet forward (submit to completion). */
  medianMs: number;
  runs: number;
}

export interface EngineApi {
  /** Opens the GPU device inside the worker. */
  init(): Promise<EngineInfo>;
  /** Times the UNet forward of a freshly initialised model of the named preset. */
  timeForward(preset: string, batch: number, runs: number): Promise<ForwardTiming>;
}
