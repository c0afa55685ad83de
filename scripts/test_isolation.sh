#!/usr/bin/env bash
# Isolation specs (isolation/specs/*.spec, expected/*.out) run by PostgreSQL's
# pg_isolation_regress: interleavings of sessions around commits, savepoints,
# PREPARE TRANSACTION and TRUNCATE.
#
#   scripts/test_isolation.sh [SPEC...]   every spec, or the ones named
#
# With PGHOST set, runs against that server (PGHOST/PGPORT/PGUSER/PGDATABASE;
# PGDATABASE must be the database the worker serves, fraiseql_cache.database).
# Without, starts its own cluster with scripts/cluster.sh (port 56950, database
# fc_iso, /tmp/fc_iso) and destroys it on exit; the extension must be installed
# in the server of `pg_config` (PG_CONFIG / PG_VERSION as in scripts/test.sh).
# Prints the diffs on failure and a closing line "N passed, N failed".
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/pg_select.sh || exit 1

REGRESS=$("$FC_PG_CONFIG" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress
if [ ! -x "$REGRESS" ]; then
  echo "test_isolation: $REGRESS not found (install postgresql-server-dev-$FC_PG_MAJOR)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

if [ $# -gt 0 ]; then
  specs=("$@")
else
  specs=()
  for f in isolation/specs/*.spec; do specs+=("$(basename "$f" .spec)"); done
fi
for s in "${specs[@]}"; do
  if [ ! -f "isolation/specs/$s.spec" ] || [ ! -f "isolation/expected/$s.out" ]; then
    echo "test_isolation: no spec '$s' (isolation/specs/$s.spec and isolation/expected/$s.out)" >&2
    echo "0 passed, ${#specs[@]} failed"
    exit 2
  fi
done

if [ -z "${PGHOST:-}" ]; then
  export FRAISEQL_CLUSTER_DIR=/tmp/fc_iso FRAISEQL_PORT=56950 FRAISEQL_DB=fc_iso
  trap 'scripts/cluster.sh destroy >/dev/null 2>&1' EXIT
  if ! scripts/cluster.sh start >/dev/null; then
    echo "test_isolation: starting the cluster failed" >&2
    echo "0 passed, ${#specs[@]} failed"
    exit 1
  fi
  eval "$(scripts/cluster.sh env)"
fi
: "${PGDATABASE:?test_isolation: PGDATABASE must name the database the worker serves}"

# The specs compare versions right after commits: wait until the worker serves
# the database (on a fresh cluster it starts once the database and the
# extension exist; until then commits wait out wait_timeout_ms).
if ! psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache" >/dev/null; then
  echo "test_isolation: cannot create the extension in database $PGDATABASE" >&2
  echo "0 passed, ${#specs[@]} failed"
  exit 1
fi
serving=
for _ in $(seq 1 300); do
  serving=$(psql -X -At -c "SELECT serving FROM fraiseql_cache.stats()" 2>/dev/null)
  [ "$serving" = t ] && break
  sleep 0.1
done
if [ "$serving" != t ]; then
  echo "test_isolation: the worker does not serve database $PGDATABASE (fraiseql_cache.database = '$(psql -X -At -c "SHOW fraiseql_cache.database" 2>/dev/null)')" >&2
  echo "0 passed, ${#specs[@]} failed"
  exit 1
fi

# A step that blocks for good (a regression) is cancelled after this many seconds.
export PGISOLATIONTIMEOUT=${PGISOLATIONTIMEOUT:-60}

out=$ROOT/build/isolation
rm -rf "$out"
mkdir -p "$out"
log=$out/run.log
# --use-existing: the database exists (and is the one served); nothing is
# created or dropped but the specs' own tables.
"$REGRESS" --use-existing --bindir="$FC_PG_BINDIR" --dbname="$PGDATABASE" \
  --inputdir=isolation --outputdir="$out" "${specs[@]}" >"$log" 2>&1
rc=$?
cat "$log"
# A PREPARE that should have been refused leaves a transaction holding locks.
for gid in $(psql -X -At -c "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'iso\_%'" 2>/dev/null); do
  echo "test_isolation: rolling back prepared transaction $gid left by a spec" >&2
  psql -X -q -c "ROLLBACK PREPARED '$gid'" >/dev/null
  rc=1
done

# One result line per spec: "test NAME ... ok" (15) or "ok N - NAME" (16+).
passed=0
failed=0
for s in "${specs[@]}"; do
  if grep -E -q "^(test|     ) +$s +\.\.\. ok|^ok +[0-9]+ +[-+] +$s( |$)" "$log"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
  [ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
  [ "$failed" -eq 0 ] && echo "test_isolation: pg_isolation_regress exited with status $rc" >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] && [ "$rc" -eq 0 ]
