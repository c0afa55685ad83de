#!/usr/bin/env bash
# The soak and the stale-read oracle (build/meson/soak_tests) in two served
# databases of one cluster at the same time: each database's versions must
# count exactly its own committed transactions, and its cache clients see no
# stale hit, while the other database's writers run.
#
# Its own throwaway cluster (every database with the extension served) on
# FRAISEQL_TWO_DB_PORT (default FRAISEQL_PORT + 60), stopped on every way out.
# FRAISEQL_SOAK_SECONDS (default 30) per database. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
base_port=${FRAISEQL_PORT:-55432}
export FRAISEQL_PORT=${FRAISEQL_TWO_DB_PORT:-$((base_port + 60))}
export FRAISEQL_CLUSTER_DIR=/tmp/fc_two_databases_$FRAISEQL_PORT
export FRAISEQL_DB=soak_a
export FRAISEQL_SERVED_DATABASE=''
export FRAISEQL_SOAK_SECONDS=${FRAISEQL_SOAK_SECONDS:-30}
unset FRAISEQL_CLUSTER_SCRIPT
trap 'scripts/cluster.sh destroy >/dev/null 2>&1 || true' EXIT

if ! scripts/cluster.sh start >/dev/null; then
  echo "two databases: the cluster did not start"
  exit 1
fi
eval "$(scripts/cluster.sh env)"
createdb soak_b || exit 1
for db in soak_a soak_b; do
  psql -X -q -d "$db" -c "CREATE EXTENSION pg_fraiseql_cache" || exit 1
done

logs=$(mktemp -d)
PGDATABASE=soak_a build/meson/soak_tests --gtest_brief=1 >"$logs/a" 2>&1 &
a=$!
PGDATABASE=soak_b build/meson/soak_tests --gtest_brief=1 >"$logs/b" 2>&1 &
b=$!
wait $a; ra=$?
wait $b; rb=$?

passed=0
failed=0
report() {  # name, rc, log
  grep -E '^\[ (soak|oracle) +\]|FAILED|Failure' "$3" | head -20 | sed "s/^/  [$1] /"
  if [ "$2" = 0 ]; then echo "PASS: soak and oracle in $1"; passed=$((passed + 1));
  else echo "FAIL: soak and oracle in $1 (exit $2)"; failed=$((failed + 1)); fi
}
report soak_a $ra "$logs/a"
report soak_b $rb "$logs/b"

# Each database had a worker of its own.
workers=$(psql -X -At -c "SELECT count(DISTINCT datname) FROM pg_stat_activity
                           WHERE backend_type = 'fraiseql_cache worker'
                             AND datname IN ('soak_a', 'soak_b')")
if [ "$workers" = 2 ]; then echo "PASS: one worker per database"; passed=$((passed + 1));
else echo "FAIL: one worker per database ($workers databases with a worker)"; failed=$((failed + 1)); fi
rm -rf "$logs"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
