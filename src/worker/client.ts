// The page's handle on the engine worker.
import { wrap, type Remote } from 'comlink';
import type { EngineApi } from './api';

export function startEngine(): Remote<EngineApi> {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'ddim-engine' });
  return wrap<EngineApi>(worker);
}
