#!/usr/bin/env bash
# The client library's tests and every example's test, against the test
# cluster that is already running (scripts/test.sh starts it and exports
# PGHOST, PGPORT, PGUSER, PGDATABASE and FRAISEQL_*).
#
# Starts a redis-server of its own on a free loopback port (from 56379 up),
# in a temporary directory, and stops it on exit (FRAISEQL_CLIENTS_REDIS_PORT
# moves the range: that port and the 20 above it). Builds the client with
# meson in FRAISEQL_CLIENT_BUILD_DIR (default build/meson, as test.sh does).
#
# Prints one line per part and exits non-zero if any part failed.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
source "$ROOT/scripts/lib/redis.sh"
BUILD=${FRAISEQL_CLIENT_BUILD_DIR:-build/meson}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export FRAISEQL_CLIENT_BUILD_DIR=$BUILD
export FRAISEQL_SOURCE_DIR=$ROOT

tmp=$(mktemp -d /tmp/fraiseql_clients.XXXXXX)
redis_pid=
cleanup() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    kill "$redis_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "clients: $tool not found (apt-get install redis-server)"; exit 1; }
done

# ---- build -----------------------------------------------------------------
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" >"$tmp/meson.log" 2>&1 || { cat "$tmp/meson.log"; echo "clients: meson setup failed"; exit 1; }
fi
if ! ninja -C "$BUILD" >"$tmp/ninja.log" 2>&1; then
  tail -50 "$tmp/ninja.log"
  echo "clients: build failed"
  exit 1
fi
if [ ! -x "$BUILD/clients/cpp/client_integration_tests" ]; then
  echo "clients: $BUILD/clients/cpp/client_integration_tests was not built (libpqxx-dev, libhiredis-dev, libgtest-dev present?)"
  exit 1
fi

# ---- redis -----------------------------------------------------------------
redis_from=${FRAISEQL_CLIENTS_REDIS_PORT:-56379}
start_redis "$redis_from" $((redis_from + 20)) "$tmp"
if [ -z "$redis_port" ]; then
  [ -f "$tmp/redis.log" ] && tail -20 "$tmp/redis.log"
  echo "clients: could not start redis-server on a free port in $redis_from-$((redis_from + 20))"
  exit 1
fi
export FRAISEQL_REDIS_HOST=127.0.0.1 FRAISEQL_REDIS_PORT=$redis_port
echo "clients: redis-server on 127.0.0.1:$redis_port"

# ---- parts -----------------------------------------------------------------
passed=0
failed=0
failed_names=()
part() {
  local name=$1
  shift
  local log="$tmp/$name.log"
  local start=$SECONDS
  if "$@" >"$log" 2>&1; then
    echo "clients: $name ok ($((SECONDS - start)) s)"
    passed=$((passed + 1))
  else
    echo "clients: $name FAILED ($((SECONDS - start)) s); output:"
    tail -80 "$log" | sed 's/^/    /'
    failed=$((failed + 1))
    failed_names+=("$name")
  fi
  # Measurements the tests print.
  grep -E '^\[ (oracle|notification lag|storm)' "$log" | sed 's/^/    /' || true
}

part client_unit "$BUILD/clients/cpp/client_unit_tests" --gtest_brief=1
part client_integration "$BUILD/clients/cpp/client_integration_tests" --gtest_brief=1
for t in "$ROOT"/examples/*/test.sh; do
  [ -f "$t" ] || continue
  part "example_$(basename "$(dirname "$t")")" bash "$t"
done

[ ${#failed_names[@]} -gt 0 ] && echo "clients: failed: ${failed_names[*]}"
echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
