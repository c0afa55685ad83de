#!/usr/bin/env bash
# Runs batch-patterns.sql against the served database (PGHOST, PGPORT,
# PGUSER, PGDATABASE); the script checks its own claims.
set -euo pipefail
cd "$(dirname "$0")"
psql -X -v ON_ERROR_STOP=1 -f batch-patterns.sql
