#!/usr/bin/env bash
# The C++ client's replica mode against a real primary and streaming hot
# standby (tests/replica_client/): writers on the primary, cache clients on
# the standby taking versions from a replica-mode VersionWatcher (0 stale
# hits asserted, hit ratio printed), then the primary stopped with
# -m immediate and the standby promoted (the watcher must follow, drop its
# map and reload; no entry from before may serve as fresh).
#
#   scripts/test_replica_client.sh [--seconds N] [--lookups exact|pending] [--mode replica|plain]
#
# Servers from `pg_config --bindir` (the extension installed there), run as
# `postgres` under a fresh /tmp/pg_fraiseql_cache_replica_client.* directory
# on loopback ports FRAISEQL_REPLICA_CLIENT_PORT and +1 (default 57210).
# Builds the test program with meson in FRAISEQL_CLIENT_BUILD_DIR (default
# build/meson). Closes with "N passed, N failed"; exits non-zero on any
# failure. Every server started is stopped on the way out.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${FRAISEQL_REPLICA_CLIENT_PORT:-57210}
BUILD=${FRAISEQL_CLIENT_BUILD_DIR:-build/meson}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

fail_early() {
  echo "test_replica_client: $1"
  echo "0 passed, 1 failed"
  exit 1
}

BINDIR=$(pg_config --bindir 2>/dev/null) || fail_early "pg_config is not in PATH"
[ -f "$(pg_config --pkglibdir)/pg_fraiseql_cache.so" ] ||
  fail_early "pg_fraiseql_cache is not installed in $(pg_config --pkglibdir) (run make install)"
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
"$PYTHON" -c 'import psycopg' 2>/dev/null || fail_early "python3-psycopg is missing (apt-get install python3-psycopg)"

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" >/dev/null 2>&1 || fail_early "meson setup $BUILD failed"
fi
ninja -C "$BUILD" tests/replica_client/replica_oracle >/tmp/fc_replica_client_ninja.$$.log 2>&1 || {
  tail -30 /tmp/fc_replica_client_ninja.$$.log
  rm -f /tmp/fc_replica_client_ninja.$$.log
  fail_early "building tests/replica_client/replica_oracle failed (libpqxx-dev, libhiredis-dev present?)"
}
rm -f /tmp/fc_replica_client_ninja.$$.log
PROGRAM=$BUILD/tests/replica_client/replica_oracle

source "$ROOT/scripts/lib/throwaway_nodes.sh"
fc_nodes_begin pg_fraiseql_cache_replica_client FRAISEQL_REPLICA_CLIENT_KEEP test_replica_client

echo "test_replica_client: $("$BINDIR/postgres" --version), nodes in $BASE, ports $PORT-$((PORT + 1))"
fc_nodes_run "$PYTHON" -u "$ROOT/tests/replica_client/run.py" --base "$BASE" --bindir "$BINDIR" --port "$PORT" \
  --program "$PROGRAM" "$@"
