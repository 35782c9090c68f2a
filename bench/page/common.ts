// What the bench page and its two runners share: the request from bench/run.mjs, the result rows,
// deterministic inputs and the statistics. No GPU code here.

/** One model to time: where the page fetches its files (served by bench/run.mjs). */
export interface BenchModel {
  name: string;
  /** ONNX export of the network, run by ONNX Runtime Web. */
  onnxUrl: string;
  /** The same network's weights for this engine (config in `__metadata__.model`). */
  weightsUrl: string;
}

export interface BenchRequest {
  models: BenchModel[];
  batches: number[];
  /** Untimed runs per side before timing (the first one compiles pipelines). */
  warmup: number;
  /** Timed runs per side; the row reports their median. */
  iters: number;
  /** URL of the ORT Web ES module to import (served raw from node_modules/onnxruntime-web/dist). */
  ortModuleUrl: string;
  /** URL prefix of ORT's .wasm/.mjs runtime files (ort.env.wasm.wasmPaths). */
  ortWasmPrefix: string;
  /** Which sides to run: a side left out reports null. */
  sides: { ours: boolean; ort: boolean };
}

export interface BenchRow {
  model: string;
  batch: number;
  /** Median ms per forward (inputs written, forward, eps read back), or null when that side did not run. */
  ours_ms: number | null;
  ort_ms: number | null;
  /** ort_ms / ours_ms: above 1 means this engine is faster. */
  speedup: number | null;
  /** Every timed run, in order. */
  ours_runs_ms: number[];
  ort_runs_ms: number[];
  /** max |eps_ours - eps_ort| on the last timed run, and max |eps_ort| for scale. */
  max_abs_diff: number | null;
  max_abs_ref: number | null;
  /** Why a side has no number. */
  errors: string[];
}

export interface BenchResult {
  /** The engine's adapter description (acquireDevice), with ORT's adapter info when it exposes one. */
  adapter: string;
  /** GPUAdapterInfo of each side's device (vendor / architecture / device / description). */
  oursAdapterInfo: string | null;
  ortAdapter: string | null;
  ortBuild: string;
  /** ONNX graph inputs/outputs as ORT reports them, per model. */
  onnx: Record<string, { inputs: string[]; outputs: string[]; inputMetadata: unknown }>;
  rows: BenchRow[];
}

/** Reported to bench/run.mjs as the page goes (SwiftShader runs take seconds to minutes). */
export type Progress = (line: string) => void;

/** Deterministic standard-normal image batch (xorshift32 + Box-Muller): the same x for both sides. */
export function normalInput(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 1) / 4294967297; // (0, 1): log() stays finite
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** Integer timesteps spread over [0, 1000) (37, 162, 287, ...), one per sample, as float32. */
export function timesteps(batch: number): Float32Array {
  return Float32Array.from({ length: batch }, (_, i) => (37 + 125 * i) % 1000);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function maxAbs(xs: Float32Array): number {
  let m = 0;
  for (const v of xs) m = Math.max(m, Math.abs(v));
  return m;
}

/** max |a - b|; NaN anywhere makes it NaN (a NaN must not pass as agreement). */
export function maxAbsDiff(a: Float32Array, b: Float32Array, what: string): number {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} values vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d;
  }
  return m;
}

export async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
