#!/usr/bin/env bash
# Runs the test suites against a throwaway cluster, as `make test` does.
#
#   scripts/test.sh all          deps, build, install, every suite
#   scripts/test.sh unit         C++ unit tests only (no server)
#   scripts/test.sh integration  pg_regress, pgTAP and C++ integration
#
# Prints one line per suite and a closing "suites: N passed, N failed".
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
what=${1:-all}
# The server to build and test against: PG_CONFIG=... or PG_VERSION=NN (default: pg_config in PATH).
source scripts/pg_select.sh || exit 1

export FRAISEQL_CLUSTER_DIR=${FRAISEQL_CLUSTER_DIR:-/tmp/pg_fraiseql_cache_test}
export FRAISEQL_PORT=${FRAISEQL_PORT:-55432}
export FRAISEQL_DB=${FRAISEQL_DB:-fraiseql_test}
# The suites with clusters of their own, on ports and in directories derived
# from this run's port, so runs for several servers never share them.
export FRAISEQL_GUARANTEES_PORT=${FRAISEQL_GUARANTEES_PORT:-$((FRAISEQL_PORT + 38))}
export FRAISEQL_GUARANTEES_DIR=${FRAISEQL_GUARANTEES_DIR:-/tmp/fc_guarantees_$FRAISEQL_GUARANTEES_PORT}
export FRAISEQL_STANDBY_PORT=${FRAISEQL_STANDBY_PORT:-$((FRAISEQL_PORT + 1268))}
export FRAISEQL_CLUSTER_SCRIPT=$ROOT/scripts/cluster.sh
export FRAISEQL_SOURCE_DIR=$ROOT

passed=0
failed=0
failed_names=()

run_suite() {
  local name=$1
  shift
  echo "=== suite: $name"
  if "$@"; then
    echo "=== suite $name: ok"
    passed=$((passed + 1))
  else
    echo "=== suite $name: FAILED"
    failed=$((failed + 1))
    failed_names+=("$name")
  fi
}

finish() {
  if [ "$what" != unit ]; then
    scripts/cluster.sh stop >/dev/null 2>&1 || true
  fi
  echo
  [ ${#failed_names[@]} -gt 0 ] && echo "failed suites: ${failed_names[*]}"
  echo "suites: $passed passed, $failed failed"
  if [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then exit 1; fi
  exit 0
}
trap finish EXIT

scripts/deps.sh || { echo "dependency installation failed"; failed=1; exit 1; }

build_tests() {
  if [ ! -f build/meson/build.ninja ]; then
    meson setup build/meson >/dev/null || return 1
  fi
  ninja -C build/meson >/dev/null
}
if ! build_tests; then
  echo "building the C++ test programs failed"
  failed=$((failed + 1))
  exit 1
fi

if [ "$what" = unit ] || [ "$what" = all ]; then
  run_suite unit build/meson/unit_tests --gtest_brief=1
fi
[ "$what" = unit ] && exit 0

if ! fc_build_install >/dev/null; then
  echo "building or installing the extension failed"
  failed=$((failed + 1))
  exit 1
fi
if ! scripts/cluster.sh start; then
  echo "starting the test cluster failed"
  failed=$((failed + 1))
  exit 1
fi
eval "$(scripts/cluster.sh env)"

pg_regress_suite() {
  fc_make -s installcheck PGDATABASE="$FRAISEQL_DB" || {
    [ -f "$FC_BUILD_DIR/build/regress/regression.diffs" ] && head -200 "$FC_BUILD_DIR/build/regress/regression.diffs"
    return 1
  }
}
pgtap_suite() {
  psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null &&
    pg_prove --ext .sql -r tap/
}
run_suite pg_regress pg_regress_suite
run_suite pgtap pgtap_suite
run_suite dump_roundtrip tests/dump/roundtrip.sh
run_suite readme_quick_start tests/readme/quick_start.sh
run_suite integration build/meson/integration_tests --gtest_brief=1
run_suite server_cases tests/guarantees/server_cases.sh
run_suite isolation scripts/test_isolation.sh
run_suite soak build/meson/soak_tests --gtest_brief=1
# The soak and the oracle in two served databases of one cluster at once.
run_suite two_databases scripts/test_two_databases.sh
# Every database served: clones, copies, DROP/CREATE, the bound (own clusters).
run_suite multidb env MDB_PORT="${MDB_PORT:-$((FRAISEQL_PORT + 65))}" scripts/test_multidb.sh
run_suite clients scripts/test_clients.sh
run_suite node_client scripts/test_node.sh
run_suite python_client scripts/test_python.sh
run_suite conformance scripts/test_conformance.sh
run_suite standby scripts/test_standby.sh
# The C++ client's replica mode: its own primary and standby, on ports following the run's.
run_suite replica_client env FRAISEQL_REPLICA_CLIENT_PORT="${FRAISEQL_REPLICA_CLIENT_PORT:-$((FRAISEQL_PORT + 1778))}" \
  scripts/test_replica_client.sh
