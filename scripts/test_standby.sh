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

BASE=$(mktemp -d /tmp/pg_fraiseql_cache_standby.XXXXXX)
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
  if [ "${FRAISEQL_STANDBY_KEEP:-0}" = 1 ]; then
    echo "test_standby: files kept in $BASE"
  else
    rm -rf "$BASE"
  fi
}
trap cleanup EXIT

echo "test_standby: $("$BINDIR/postgres" --version), nodes in $BASE, ports $PORT-$((PORT + 7))"
"$PYTHON" -u "$ROOT/tests/standby/run.py" --base "$BASE" --bindir "$BINDIR" --port "$PORT" "$@" &
runner=$!
# Passed on, so that the runner stops its servers before the cleanup looks.
trap 'kill -TERM "$runner" 2>/dev/null' INT TERM
while true; do
  wait "$runner"
  rc=$?
  kill -0 "$runner" 2>/dev/null || break
done
if [ "$rc" -gt 1 ]; then
  # The runner did not get to its closing line (bad arguments, killed).
  echo "test_standby: the runner stopped early (exit $rc)"
  echo "0 passed, 1 failed"
fi
exit "$rc"
