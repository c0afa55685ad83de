#!/usr/bin/env bash
# Streaming hot standby, promotion and point-in-time restore tests
# (tests/standby/): primaries and standbys started here, as `postgres`, from
# `pg_config --bindir` (the first pg_config in PATH), under a fresh directory
# in /tmp, on loopback ports FRAISEQL_STANDBY_PORT .. +7 (default 56700).
#
#   scripts/test_standby.sh            every test
#   scripts/test_standby.sh --only 1,5 some of them
#
# Closes with "N passed, N failed"; exits non-zero on any failure. Every
# server started is stopped on the way out, whatever happened.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${FRAISEQL_STANDBY_PORT:-56700}

if ! BINDIR=$(pg_config --bindir 2>/dev/null); then
  echo "test_standby: pg_config is not in PATH"
  echo "0 passed, 1 failed"
  exit 1
fi
LIBDIR=$(pg_config --pkglibdir)
if [ ! -f "$LIBDIR/pg_fraiseql_cache.so" ]; then
  echo "test_standby: pg_fraiseql_cache is not installed in $LIBDIR (run make install)"
  echo "0 passed, 1 failed"
  exit 1
fi
# Debian's interpreter, which python3-psycopg is installed for.
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import psycopg' 2>/dev/null; then
  echo "test_standby: python3-psycopg is missing (apt-get install python3-psycopg)"
  echo "0 passed, 1 failed"
  exit 1
fi

source "$ROOT/scripts/lib/throwaway_nodes.sh"
fc_nodes_begin pg_fraiseql_cache_standby FRAISEQL_STANDBY_KEEP test_standby

echo "test_standby: $("$BINDIR/postgres" --version), nodes in $BASE, ports $PORT-$((PORT + 7))"
fc_nodes_run "$PYTHON" -u "$ROOT/tests/standby/run.py" --base "$BASE" --bindir "$BINDIR" --port "$PORT" "$@"
