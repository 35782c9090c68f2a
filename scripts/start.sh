#!/usr/bin/env bash
# The one start command (README): installs the npm dependencies on first run, then serves the app.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/vite ] || npm ci --no-audit --no-fund
exec npx vite --host 127.0.0.1 --port "${PORT:-5173}" "$@"
