import { defineConfig } from 'vitest/config';

// The app (index.html) and the test runner share this config. GPU tests create
// a Dawn device per file; SwiftShader is CPU-bound, so at most two files run at once.
export default defineConfig({
  build: { target: 'es2022', outDir: 'dist/app' },
  worker: { format: 'es' },
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/gpu/**/*.test.ts', 'tests/e2e/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
