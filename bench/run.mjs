#!/usr/bin/env node
// npm run bench [-- options] (tsx bench/run.mjs): this engine's UNet forward vs ONNX Runtime Web's WebGPU execution
// provider, same models, inputs and adapter, in ONE headless Chromium page (bench/page).
//
// Serves the repository with Vite (the page imports the engine's TypeScript as the app does), plus,
// read in place: ../shared (models, weights) under /shared/ and node_modules/onnxruntime-web/dist
// under /ort-dist/ (ORT's own ES module and wasm files, not transformed by Vite).
// Prints progress, then a table of median ms per forward and ort/ours; --json writes the rows.
import { mkdtempSync, rmSync, createReadStream, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The models the bench knows: ONNX export and this engine's weights (paths under the shared dir). */
const MODELS = {
  small32: { onnx: 'bench/small32.onnx', weights: 'bench/small32.safetensors' },
  tiny: { onnx: 'bench/tiny.onnx', weights: 'reference/unet-tiny.safetensors' },
};

/** ORT builds: both register the 'webgpu' execution provider. */
const ORT_BUILDS = {
  // `onnxruntime-web/webgpu`, the documented WebGPU import (the native WebGPU EP, asyncify wasm).
  webgpu: 'ort.webgpu.min.mjs',
  // `onnxruntime-web`, the default import (the JavaScript-kernel WebGPU EP, "JSEP").
  jsep: 'ort.min.mjs',
};

// Chromium flags that give navigator.gpu an adapter on a machine without a GPU (SwiftShader's
// Vulkan, on the CPU); on a machine with a GPU, --gpu=hardware drops the SwiftShader ones.
const BASE_FLAGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--headless', '--disable-gpu-sandbox',
  '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];
const SWIFTSHADER_FLAGS = ['--use-angle=swiftshader', '--enable-features=Vulkan'];

const USAGE = `usage: npm run bench -- [options]
  --models LIST    comma-separated, from ${Object.keys(MODELS).join(', ')} (default: small32,tiny)
  --batches LIST   batch sizes (default: 1,8)
  --warmup N       untimed runs per side before timing (default: 1)
  --iters N        timed runs per side; the median is reported (default: 3)
  --json FILE      also write {"adapter", "rows": [...]} to FILE
  --ort BUILD      ${Object.keys(ORT_BUILDS).join(' | ')}: which ORT Web build (default: webgpu)
  --only SIDE      ours | ort: run one side only
  --gpu MODE       swiftshader (default) | hardware: Chromium flags for a CPU-only machine or a real GPU
  --shared DIR     the shared data directory (default: ../shared)
  --chromium PATH  browser executable (default: $CHROMIUM or /usr/bin/chromium)
  --serve          only start the server and print the page URL (open it in any WebGPU browser)`;

/** A bad command line: reported without a stack trace. */
class UsageError extends Error {}

function parseArgs(argv) {
  const o = {
    models: ['small32', 'tiny'], batches: [1, 8], warmup: 1, iters: 3, json: null, ort: 'webgpu', only: null,
    gpu: 'swiftshader', shared: resolve(repo, '..', 'shared'), chromium: process.env.CHROMIUM || '/usr/bin/chromium', serve: false,
  };
  const list = (v) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const int = (name, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--models': o.models = list(val()); break;
      case '--batches': o.batches = list(val()).map((v) => int('--batches', v, 1)); break;
      case '--warmup': o.warmup = int('--warmup', val(), 0); break;
      case '--iters': o.iters = int('--iters', val(), 1); break;
      case '--json': o.json = resolve(val()); break;
      case '--ort': o.ort = val(); break;
      case '--only': o.only = val(); break;
      case '--gpu': o.gpu = val(); break;
      case '--shared': o.shared = resolve(val()); break;
      case '--chromium': o.chromium = val(); break;
      case '--serve': o.serve = true; break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new UsageError(`unknown option ${a}\n${USAGE}`);
    }
  }
  for (const m of o.models) if (!(m in MODELS)) throw new UsageError(`unknown model "${m}"; known: ${Object.keys(MODELS).join(', ')}`);
  if (!(o.ort in ORT_BUILDS)) throw new UsageError(`--ort must be one of ${Object.keys(ORT_BUILDS).join(', ')}, got "${o.ort}"`);
  if (o.only !== null && o.only !== 'ours' && o.only !== 'ort') throw new UsageError(`--only must be ours or ort, got "${o.only}"`);
  if (o.gpu !== 'swiftshader' && o.gpu !== 'hardware') throw new UsageError(`--gpu must be swiftshader or hardware, got "${o.gpu}"`);
  for (const m of o.models) {
    for (const f of [MODELS[m].onnx, MODELS[m].weights]) {
      const p = join(o.shared, f);
      try { statSync(p); } catch { throw new UsageError(`${m}: ${p} not found (--shared sets the shared data directory)`); }
    }
  }
  return o;
}

/** Serves GET /<prefix>/<path> from `dir` as raw bytes (no Vite transform), refusing paths outside it. */
function staticDir(prefix, dir) {
  const types = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
  return (req, res, next) => {
    const url = new URL(req.url, 'http://x');
    if (!url.pathname.startsWith(prefix)) return next();
    const file = resolve(dir, '.' + decodeURIComponent(url.pathname.slice(prefix.length - 1)));
    if (!file.startsWith(dir + sep)) { res.statusCode = 403; return res.end(); }
    let st;
    try { st = statSync(file); } catch { st = null; }
    if (!st?.isFile()) { res.statusCode = 404; return res.end(`${url.pathname}: not found`); }
    const ext = file.slice(file.lastIndexOf('.'));
    res.setHeader('Content-Type', types[ext] ?? 'application/octet-stream');
    res.setHeader('Content-Length', st.size);
    res.setHeader('Cache-Control', 'no-store');
    createReadStream(file).pipe(res);
  };
}

async function startServer(opts, request) {
  const { createServer } = await import('vite');
  const ortDist = join(repo, 'node_modules', 'onnxruntime-web', 'dist');
  // The bench page's own policy (vite.config.ts BENCH_CSP: the app's plus 'wasm-unsafe-eval' for ORT's WebAssembly).
  const { BENCH_CSP } = await import(join(repo, 'vite.config.ts')); // run.mjs runs under tsx (npm run bench)
  const server = await createServer({
    root: repo,
    configFile: join(repo, 'vite.config.ts'), // the app's config: the engine's imports resolve as in the app
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null, fs: { allow: [repo, opts.shared] }, headers: { 'Content-Security-Policy': BENCH_CSP } },
    optimizeDeps: { entries: ['bench/page/index.html'], noDiscovery: true, include: [] },
    plugins: [{
      name: 'bench-files',
      configureServer(s) {
        s.middlewares.use(staticDir('/shared/', opts.shared));
        s.middlewares.use(staticDir('/ort-dist/', ortDist));
        s.middlewares.use((req, res, next) => {
          if (new URL(req.url, 'http://x').pathname !== '/bench-request.json') return next();
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify(request));
        });
      },
    }],
  });
  await server.listen();
  const addr = server.httpServer.address();
  return { server, origin: `http://127.0.0.1:${addr.port}` };
}

function buildRequest(opts) {
  return {
    models: opts.models.map((name) => ({ name, onnxUrl: `/shared/${MODELS[name].onnx}`, weightsUrl: `/shared/${MODELS[name].weights}` })),
    batches: opts.batches,
    warmup: opts.warmup,
    iters: opts.iters,
    ortModuleUrl: `/ort-dist/${ORT_BUILDS[opts.ort]}`,
    ortWasmPrefix: '/ort-dist/',
    sides: { ours: opts.only !== 'ort', ort: opts.only !== 'ours' },
  };
}

const fmt = (v, d = 1) => (v === null || v === undefined ? 'n/a' : v.toFixed(d));

/** eps agreement: both sides compute the same float32 network; a gap above this means mismatched inputs or weights. */
function agrees(row) {
  return row.max_abs_diff === null || row.max_abs_diff <= 1e-3 * Math.max(1, row.max_abs_ref);
}

function printTable(result, opts) {
  console.log(`\nadapter: ${result.adapter}   (ours: ${result.oursAdapterInfo ?? 'n/a'}; ORT's device: ${result.ortAdapter ?? 'n/a'})`);
  if (result.oursAdapterInfo && result.ortAdapter && result.oursAdapterInfo !== result.ortAdapter) {
    console.log('WARNING: the two sides report different adapters; the ratio compares different hardware.');
  }
  console.log(`ORT build: ${result.ortBuild} (executionProviders ['webgpu']); warm-up ${opts.warmup}, median of ${opts.iters} timed runs per side`);
  console.log('each run: write x and t, forward, read eps back (submit to completion)\n');
  const head = ['model', 'batch', 'ours ms', 'ort ms', 'ort/ours', 'max|eps diff|', 'max|eps|'];
  const rows = result.rows.map((r) => [r.model, String(r.batch), fmt(r.ours_ms), fmt(r.ort_ms), r.speedup === null ? 'n/a' : `${r.speedup.toFixed(2)}x`,
    r.max_abs_diff === null ? 'n/a' : r.max_abs_diff.toExponential(2) + (agrees(r) ? '' : ' MISMATCH'), fmt(r.max_abs_ref, 3)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  for (const r of result.rows) for (const e of r.errors) console.log(`  ${r.model} b${r.batch}: ${e}`);
  console.log('\nspeedup = ort ms / ours ms (above 1: this engine is faster).');
  if (/swiftshader/i.test(result.adapter + (result.ortAdapter ?? ''))) {
    console.log('NOTE: SwiftShader runs WebGPU on the CPU: these times check that both sides run, not GPU performance.');
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const request = buildRequest(opts);
  const { server, origin } = await startServer(opts, request);
  const pageUrl = `${origin}/bench/page/index.html`;
  if (opts.serve) {
    console.log(`serving ${pageUrl}?autorun  (Ctrl-C to stop)`);
    return;
  }

  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'ddim-bench-chromium-'));
  const args = [...BASE_FLAGS, ...(opts.gpu === 'swiftshader' ? SWIFTSHADER_FLAGS : [])];
  let context = null;
  let failed = false;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: opts.chromium, headless: true, args });
    const page = context.pages()[0] ?? (await context.newPage());
    const t0 = Date.now();
    await page.exposeFunction('benchProgress', (line) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`  page ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
    await page.goto(pageUrl);
    await page.waitForFunction(() => window.bench !== undefined, null, { timeout: 120_000 });
    const result = await page.evaluate((req) => window.bench.run(req), request);
    printTable(result, opts);
    if (opts.json) {
      const out = {
        adapter: result.adapter,
        ours_adapter_info: result.oursAdapterInfo,
        ort_adapter_info: result.ortAdapter,
        ort_build: result.ortBuild,
        settings: { warmup: opts.warmup, iters: opts.iters, gpu: opts.gpu, io: 'host in, host out (x and t written, eps read back) on both sides' },
        onnx: result.onnx,
        rows: result.rows,
      };
      writeFileSync(opts.json, JSON.stringify(out, null, 2) + '\n');
      console.log(`wrote ${opts.json}`);
    }
    failed = result.rows.some((r) => r.errors.length > 0 || !agrees(r));
  } finally {
    await context?.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
    await server.close();
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`bench: ${e instanceof UsageError ? e.message : e?.stack ?? e}`);
  process.exitCode = 1;
});
