// Budget-comparison runs of the Research tab in IndexedDB (idb-keyval, its own database): the
// settings and every evaluation point, written after each point so a closed tab keeps what was
// measured. Points are small; no weights are kept.
import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';
import type { ArmKind, BudgetPoint } from '../research/budget';
import type { UNetConfig } from '../nn/config';
import { storageError } from './models';

export interface BudgetSpec {
  name: string;
  /** Image-gradient evaluations per arm. */
  evals: number;
  points: number;
  samples: number;
  seed: number;
  lr: number;
  emaRate: number;
  timeBatch: number;
  /** The recipe arm's batch (runs stored before that arm existed have none). */
  recipeBatch?: number;
  layeredBatch: number;
  arms: ArmKind[];
  /** The time-conditioned model; the layered model's sub-models share its structure, without time embedding. */
  timeConfig: UNetConfig;
  numBlock: number;
  /** Width (ch) of every layered sub-model. */
  layeredCh: number;
}

export interface BudgetRunEntry {
  id: string;
  spec: BudgetSpec;
  points: BudgetPoint[];
  state: 'running' | 'done' | 'stopped' | 'error';
  message?: string;
  created: number;
  updated: number;
}

let store: UseStore | undefined;
const db = (): UseStore => (store ??= createStore('ddim-webgpu-research', 'budget-runs'));

export async function listBudgetRuns(): Promise<BudgetRunEntry[]> {
  return (await values<BudgetRunEntry>(db())).sort((a, b) => b.created - a.created);
}

export function getBudgetRun(id: string): Promise<BudgetRunEntry | undefined> {
  return get<BudgetRunEntry>(id, db());
}

export async function saveBudgetRun(run: BudgetRunEntry): Promise<BudgetRunEntry> {
  const entry = { ...run, updated: Date.now() };
  try {
    await set(entry.id, entry, db());
  } catch (e) {
    throw storageError(e, `the research run "${run.spec.name}"`, JSON.stringify(entry).length);
  }
  return entry;
}

export function deleteBudgetRun(id: string): Promise<void> {
  return del(id, db());
}
