#!/usr/bin/env bash
# The one start command (README): installs the npm dependencies on first run, builds the app for
# production (Lit in production mode, the Content-Security-Policy in the page) and serves the build.
# `npm run dev` serves the sources instead, with hot reload, for working on the app.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/vite ] || npm ci --no-audit --no-fund
npx vite build --logLevel warn
exec npx vite preview --host 127.0.0.1 --port "${PORT:-5173}" --strictPort "$@"
