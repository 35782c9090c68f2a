import { defineConfig } from 'vitest/config';

// The Content-Security-Policy the app and its worker run under: scripts, workers and connections
// only from this origin, so no injected script runs and the user's images and models cannot be sent
// anywhere (connect-src 'self'). Styles allow inline attributes (the templates' layout tweaks);
// images allow data: and blob: (exports, canvases). Sent as a header by the dev and preview servers
// (a worker takes the policy of its own response) and written into index.html for static hosting.
export const CSP = [
  "default-src 'self'", "script-src 'self'", "worker-src 'self'", "connect-src 'self'", "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:", "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'",
].join('; ');

// The benchmark page (bench/page, `npm run bench`) runs ONNX Runtime Web beside the engine, and ORT
// compiles its WebAssembly at run time: its page gets the app's policy plus 'wasm-unsafe-eval' (which
// allows compiling WebAssembly and nothing else: no eval of JavaScript). The app's policy stays strict.
export const BENCH_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'");
const BENCH_PAGES = '/bench/';

// The app (index.html) and the test runner share this config. SwiftShader is CPU-bound, so at most
// two files run at once; the files of a worker share its modules (isolate: false), so the GPU tests
// share one Dawn device and its compiled pipelines per worker (tests/gpu/harness.ts).
export default defineConfig({
  server: { headers: { 'Content-Security-Policy': CSP } },
  preview: { headers: { 'Content-Security-Policy': CSP } },
  plugins: [{
    name: 'content-security-policy',
    transformIndexHtml: (_html, ctx) => [{
      tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: ctx.path.startsWith(BENCH_PAGES) ? BENCH_CSP : CSP }, injectTo: 'head-prepend',
    }],
  }],
  build: { target: 'es2022', outDir: 'dist/app' },
  worker: { format: 'es' },
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/gpu/**/*.test.ts', 'tests/e2e/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
