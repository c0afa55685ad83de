#!/usr/bin/env bash
# Runs the FraiseQL PostgresCache flow against the served database (PGHOST,
# PGPORT, PGUSER, PGDATABASE) with Debian's python3 and python3-psycopg.
set -euo pipefail
cd "$(dirname "$0")"
exec /usr/bin/python3 postgres_cache_flow.py
