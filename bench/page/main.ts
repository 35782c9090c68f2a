// The bench page: times this engine's UNet forward and ONNX Runtime Web (WebGPU EP) on the same
// models, inputs and adapter, in one page. bench/run.mjs drives it through `window.bench.run`
// (progress comes back through `window.benchProgress`); opened by hand with `?autorun`, it fetches
// the request that `npm run bench -- --serve` serves and prints the table into the page.
//
// The engine side is imported dynamically so that a broken engine module still leaves the ORT column.
import { parseSafetensors } from '../../src/io/safetensors';
import { configFromMetadata, type UNetConfig } from '../../src/nn/config';
import {
  errorText, fetchBytes, maxAbs, maxAbsDiff, median, normalInput, timesteps,
  type BenchModel, type BenchRequest, type BenchResult, type BenchRow,
} from './common';
import { describeAdapter, loadOrt, ortAdapterInfo, OrtModel, type Ort, type OrtForward } from './ort';
import type { OursForward, OursModel } from './ours';

type OursModule = typeof import('./ours');

declare global {
  interface Window {
    bench?: { run: (req: BenchRequest) => Promise<BenchResult> };
    /** Exposed by bench/run.mjs (page.exposeFunction). */
    benchProgress?: (line: string) => Promise<void>;
  }
}

const logEl = document.getElementById('log')!;

function progress(line: string): void {
  logEl.textContent += line + '\n';
  if (window.benchProgress) void window.benchProgress(line);
  else console.log(line);
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const out = await fn();
  return [performance.now() - t0, out];
}

/** A side of one row: its runner, times and last output; `fail` drops it and records why. */
class Side {
  runs: number[] = [];
  last: Float32Array | null = null;
  constructor(
    readonly name: 'ours' | 'ort',
    public runner: { run(): Promise<Float32Array> } | null,
    private readonly errors: string[],
  ) {}

  async step(tag: string, keep: boolean): Promise<void> {
    if (!this.runner) return;
    try {
      const [ms, out] = await timed(() => this.runner!.run());
      progress(`${tag} ${this.name}: ${ms.toFixed(1)} ms`);
      if (keep) this.runs.push(ms);
      this.last = out;
    } catch (e) {
      this.errors.push(`${this.name}: ${errorText(e)}`);
      progress(`${tag} ${this.name} FAILED: ${errorText(e)}`);
      this.runner = null;
      this.runs = [];
    }
  }
}

async function runRow(
  req: BenchRequest, model: BenchModel, cfg: UNetConfig, batch: number,
  oursModel: OursModel | null, ortModel: OrtModel | null, setupErrors: string[],
): Promise<BenchRow> {
  const errors = [...setupErrors];
  const xShape = [batch, cfg.in_channels, cfg.resolution, cfg.resolution];
  const x = normalInput(xShape.reduce((a, b) => a * b, 1), 1000 + batch);
  const t = timesteps(batch);
  const tag = `[${model.name} b${batch}]`;

  let oursFwd: OursForward | null = null;
  let ortFwd: OrtForward | null = null;
  if (oursModel) {
    try { oursFwd = oursModel.plan(batch, x, t); } catch (e) { errors.push(`ours: ${errorText(e)}`); }
  }
  if (ortModel) {
    try { ortFwd = await ortModel.plan(xShape, x, t); } catch (e) { errors.push(`ort: ${errorText(e)}`); }
  }
  const ours = new Side('ours', oursFwd, errors);
  const ort = new Side('ort', ortFwd, errors);
  for (let i = 0; i < req.warmup; i++) {
    await ours.step(`${tag} warm-up ${i + 1}/${req.warmup}`, false);
    await ort.step(`${tag} warm-up ${i + 1}/${req.warmup}`, false);
  }
  // Interleaved so that drift (other load on the machine, clocks) hits both sides alike.
  for (let i = 0; i < req.iters; i++) {
    await ours.step(`${tag} run ${i + 1}/${req.iters}`, true);
    await ort.step(`${tag} run ${i + 1}/${req.iters}`, true);
  }
  if (ortFwd) await ortFwd.release().catch(() => undefined);

  const ours_ms = ours.runs.length ? median(ours.runs) : null;
  const ort_ms = ort.runs.length ? median(ort.runs) : null;
  let max_abs_diff: number | null = null;
  let max_abs_ref: number | null = null;
  if (ours.last && ort.last) {
    try {
      max_abs_diff = maxAbsDiff(ours.last, ort.last, `${tag} eps`);
      max_abs_ref = maxAbs(ort.last);
    } catch (e) { errors.push(`compare: ${errorText(e)}`); }
  }
  return {
    model: model.name, batch, ours_ms, ort_ms,
    speedup: ours_ms !== null && ort_ms !== null ? ort_ms / ours_ms : null,
    ours_runs_ms: ours.runs, ort_runs_ms: ort.runs, max_abs_diff, max_abs_ref, errors,
  };
}

async function run(req: BenchRequest): Promise<BenchResult> {
  const result: BenchResult = { adapter: 'n/a', oursAdapterInfo: null, ortAdapter: null, ortBuild: req.ortModuleUrl, onnx: {}, rows: [] };
  const globalErrors: string[] = [];

  let oursMod: OursModule | null = null;
  let device: GPUDevice | null = null;
  if (req.sides.ours) {
    try {
      oursMod = await import('./ours');
      const acquired = await oursMod.openDevice(progress);
      device = acquired.device;
      result.adapter = acquired.adapterName;
      result.oursAdapterInfo = describeAdapter(device.adapterInfo);
      progress(`ours: adapter ${acquired.adapterName} (${result.oursAdapterInfo})`);
    } catch (e) {
      globalErrors.push(`ours: ${errorText(e)}`);
      progress(`ours: unavailable: ${errorText(e)}`);
    }
  }
  let ort: Ort | null = null;
  if (req.sides.ort) {
    try {
      ort = await loadOrt(req);
      progress(`ort: loaded ${req.ortModuleUrl}`);
    } catch (e) {
      globalErrors.push(`ort: ${errorText(e)}`);
      progress(`ort: unavailable: ${errorText(e)}`);
    }
  }

  for (const model of req.models) {
    const setupErrors = [...globalErrors];
    progress(`[${model.name}] loading ${model.weightsUrl} and ${model.onnxUrl}`);
    const weights = parseSafetensors(await fetchBytes(model.weightsUrl), model.weightsUrl);
    const cfg = configFromMetadata(weights.metadata, model.weightsUrl);
    progress(`[${model.name}] config ${JSON.stringify(cfg)}`);
    const oursModel = oursMod && device ? new oursMod.OursModel(device, weights, cfg, model.weightsUrl) : null;
    let ortModel: OrtModel | null = null;
    if (ort) {
      try {
        ortModel = await OrtModel.open(ort, await fetchBytes(model.onnxUrl), model.onnxUrl);
        result.onnx[model.name] = ortModel.graph;
        progress(`[${model.name}] onnx inputs ${JSON.stringify(ortModel.graph.inputMetadata)} outputs [${ortModel.graph.outputs}]`);
      } catch (e) {
        setupErrors.push(`ort: ${errorText(e)}`);
        progress(`[${model.name}] ort: ${errorText(e)}`);
      }
    }
    for (const batch of req.batches) {
      const row = await runRow(req, model, cfg, batch, oursModel, ortModel, setupErrors);
      result.rows.push(row);
      const f = (v: number | null, d = 1) => (v === null ? 'n/a' : v.toFixed(d));
      progress(`[${model.name} b${batch}] median ours ${f(row.ours_ms)} ms, ort ${f(row.ort_ms)} ms, speedup ${f(row.speedup, 2)}x, ` +
        `max|eps_ours - eps_ort| ${row.max_abs_diff === null ? 'n/a' : row.max_abs_diff.toExponential(2)}`);
      if (ort && result.ortAdapter === null) result.ortAdapter = await ortAdapterInfo(ort);
    }
  }
  return result;
}

window.bench = { run };

if (new URLSearchParams(location.search).has('autorun')) {
  fetch('/bench-request.json')
    .then((r) => r.json() as Promise<BenchRequest>)
    .then(run)
    .then((res) => progress('\n' + JSON.stringify(res, null, 2)))
    .catch((e) => progress(`bench failed: ${errorText(e)}`));
} else if (!window.benchProgress) {
  progress('Driven by `npm run bench`; for a hand run use `npm run bench -- --serve` and open the URL it prints.');
}
