#!/usr/bin/env bash
# The shared conformance scenario (tests/conformance/scenario.json) through
# the C++, Python and Node clients, compared with its expectations and with
# each other. tests/conformance/run.py starts its own cluster (scripts/cluster.sh,
# pg_config from PATH) on FRAISEQL_CONFORMANCE_PORT (default FRAISEQL_PORT + 48)
# and destroys it on exit.
#
# Builds the C++ driver with meson in FRAISEQL_CLIENT_BUILD_DIR (default
# build/meson, as test.sh does) and installs the Node client's locked
# dependencies when they are missing (npm ci). Exits non-zero on failure.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${FRAISEQL_CLIENT_BUILD_DIR:-build/meson}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export FRAISEQL_CLIENT_BUILD_DIR=$BUILD
PY=${FRAISEQL_PYTHON:-/usr/bin/python3}
export FRAISEQL_PYTHON=$PY
tmp=$(mktemp -d /tmp/fraiseql_conformance.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

say() { echo "conformance: $*"; }

for tool in node psql pg_config meson ninja; do
  command -v "$tool" >/dev/null || { say "$tool not found"; say "suite FAILED"; exit 1; }
done
"$PY" -c "import psycopg" 2>"$tmp/imports.log" || {
  cat "$tmp/imports.log"; say "missing Debian package python3-psycopg"; say "suite FAILED"; exit 1; }

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" >"$tmp/meson.log" 2>&1 || { cat "$tmp/meson.log"; say "meson setup failed"; say "suite FAILED"; exit 1; }
fi
if ! ninja -C "$BUILD" tests/conformance/conformance_driver >"$tmp/ninja.log" 2>&1; then
  tail -40 "$tmp/ninja.log"
  say "building the C++ driver failed (libpqxx-dev, libhiredis-dev present?)"
  say "suite FAILED"
  exit 1
fi
if [ ! -d clients/node/node_modules/pg ]; then
  (cd clients/node && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1 || {
    tail -30 "$tmp/npm.log"; say "npm ci in clients/node failed"; say "suite FAILED"; exit 1; }
fi

if "$PY" tests/conformance/run.py; then
  say "suite passed"
  exit 0
fi
say "suite FAILED"
exit 1
