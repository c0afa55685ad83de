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

BASE=$(mktemp -d /tmp/pg_fraiseql_cache_replica_client.XXXXXX)
chmod 755 "$BASE"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$BASE"; fi

cleanup() {
  # The runner stops its servers itself; this catches a runner that was killed.
  local pidfile data
  for pidfile in "$BASE"/*/data/postmaster.pid; do
    [ -f "$pidfile" ] || continue
    data=$(dirname "$pidfile")
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- "$BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
    else
      "$BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
    fi
  done
  if [ "${FRAISEQL_REPLICA_CLIENT_KEEP:-0}" = 1 ]; then
    echo "test_replica_client: files kept in $BASE"
  else
    rm -rf "$BASE"
  fi
}
trap cleanup EXIT

echo "test_replica_client: $("$BINDIR/postgres" --version), nodes in $BASE, ports $PORT-$((PORT + 1))"
"$PYTHON" -u "$ROOT/tests/replica_client/run.py" --base "$BASE" --bindir "$BINDIR" --port "$PORT" \
  --program "$PROGRAM" "$@" &
runner=$!
trap 'kill -TERM "$runner" 2>/dev/null' INT TERM
while true; do
  wait "$runner"
  rc=$?
  kill -0 "$runner" 2>/dev/null || break
done
if [ "$rc" -gt 1 ]; then
  echo "test_replica_client: the runner stopped early (exit $rc)"
  echo "0 passed, 1 failed"
fi
exit "$rc"
