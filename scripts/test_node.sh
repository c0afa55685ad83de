#!/usr/bin/env bash
# The Node.js client's tests (clients/node, node --test) against a real
# server and a Redis of their own.
#
# Server: when PGHOST or PGPORT is set, the running cluster the libpq
# environment names (PGHOST, PGPORT, PGUSER = a superuser, PGDATABASE; the
# library preloaded; the tests run CREATE EXTENSION IF NOT EXISTS). Otherwise
# a throwaway cluster from scripts/cluster.sh (pg_config from PATH) in
# FRAISEQL_CLUSTER_DIR (default /tmp/fc_node) on FRAISEQL_PORT (default
# 56650), destroyed on exit.
# Redis: redis-server on the first free loopback port of 56651-56699, in a
# temporary directory, stopped on exit.
#
# Installs the locked dependencies (npm ci), prints every test's result, the
# measured figures and node's summary (# pass N / # fail N); exits non-zero
# on any failure.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
source "$ROOT/scripts/lib/redis.sh"
PKG=$ROOT/clients/node

tmp=$(mktemp -d /tmp/fraiseql_node.XXXXXX)
chmod 755 "$tmp"
redis_pid=
own_cluster=
cleanup() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    kill "$redis_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "$own_cluster" ]; then
    FRAISEQL_CLUSTER_DIR=$own_cluster scripts/cluster.sh destroy >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in node npm redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "node client: $tool not found"; exit 1; }
done

# ---- server ----------------------------------------------------------------
if [ -n "${PGHOST:-}${PGPORT:-}" ]; then
  if ! psql -X -q -At -c 'SELECT 1' >/dev/null 2>"$tmp/psql.err"; then
    cat "$tmp/psql.err"
    echo "node client: the server named by PGHOST/PGPORT (${PGHOST:-}:${PGPORT:-}) is not reachable"
    exit 1
  fi
  echo "node client: server ${PGHOST:-}:${PGPORT:-}, database ${PGDATABASE:-}"
else
  export FRAISEQL_CLUSTER_DIR=${FRAISEQL_CLUSTER_DIR:-/tmp/fc_node}
  export FRAISEQL_PORT=${FRAISEQL_PORT:-56650}
  own_cluster=$FRAISEQL_CLUSTER_DIR
  if ! scripts/cluster.sh start >"$tmp/cluster.log" 2>&1; then
    cat "$tmp/cluster.log"
    [ -f "$FRAISEQL_CLUSTER_DIR/server.log" ] && tail -20 "$FRAISEQL_CLUSTER_DIR/server.log"
    echo "node client: could not start a cluster in $FRAISEQL_CLUSTER_DIR on port $FRAISEQL_PORT"
    exit 1
  fi
  eval "$(scripts/cluster.sh env)"
  echo "node client: own cluster on port $FRAISEQL_PORT ($FRAISEQL_CLUSTER_DIR)"
fi

# ---- redis -----------------------------------------------------------------
# FRAISEQL_NODE_REDIS_PORT moves the range (that port and the 48 above it).
redis_from=${FRAISEQL_NODE_REDIS_PORT:-56651}
start_redis "$redis_from" $((redis_from + 48)) "$tmp"
if [ -z "$redis_port" ]; then
  [ -f "$tmp/redis.log" ] && tail -20 "$tmp/redis.log"
  echo "node client: could not start redis-server on a free port in $redis_from-$((redis_from + 48))"
  exit 1
fi
export FRAISEQL_REDIS_HOST=127.0.0.1 FRAISEQL_REDIS_PORT=$redis_port
unset FRAISEQL_REDIS_URL
echo "node client: redis-server on 127.0.0.1:$redis_port"

# ---- dependencies (the committed lockfile) ---------------------------------
if ! (cd "$PKG" && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1; then
  tail -30 "$tmp/npm.log"
  echo "node client: npm ci failed"
  exit 1
fi

# ---- tests -----------------------------------------------------------------
log=$tmp/tests.tap
(cd "$PKG" && node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=tap test/*.test.js) >"$log" 2>&1
rc=$?
# Results per test, the figures the tests print, node's summary.
grep -E '^ *(not )?ok [0-9]+ - |^# \[|^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$log" |
  grep -vE '^ *ok [0-9]+ - /' | sed -E 's/^ +//'
if [ "$rc" -ne 0 ]; then
  echo "---- failures:"
  grep -n -A25 -E '^ *not ok ' "$log" | head -200
fi
count() { sed -n -E "s/^# $1 ([0-9]+)$/\\1/p" "$log" | tail -1; }
pass=$(count pass)
fail=$(count fail)
skipped=$(count skipped)
cancelled=$(count cancelled)
if [ "$rc" -ne 0 ] || [ "${fail:-1}" != 0 ] || [ "${pass:-0}" = 0 ] || [ "${skipped:-0}" != 0 ] || [ "${cancelled:-0}" != 0 ]; then
  echo "node client: FAILED (exit $rc, pass ${pass:-?}, fail ${fail:-?}, skipped ${skipped:-?}, cancelled ${cancelled:-?})"
  exit 1
fi
echo "node client: ok ($pass passed)"
