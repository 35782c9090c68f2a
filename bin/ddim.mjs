#!/usr/bin/env node
// The `ddim` command: runs the bundled CLI (built by `npm run build:cli`, which `npm ci` runs).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/cli/ddim.mjs', import.meta.url);
if (!existsSync(bundle)) {
  console.error('ddim: the CLI is not built; run `npm run build:cli` (npm ci does it) in the project folder.');
  process.exit(1);
}
await import(bundle.href);
