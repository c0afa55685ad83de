#!/usr/bin/env bash
# Installs the locked dependencies (npm ci) and runs the end-to-end test
# against the served database (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "node is not installed"; exit 1; }
npm ci --no-audit --no-fund --loglevel=error >/dev/null
node test/test.js
