#!/usr/bin/env bash
# Every database with the extension is served: the cases of tests/multidb/,
# each against a fresh throwaway cluster (shared_preload_libraries =
# pg_fraiseql_cache, fraiseql_cache.database = '') on MDB_PORT (57301).
#
#   scripts/test_multidb.sh            every case
#   scripts/test_multidb.sh 03 clone   the cases whose file names contain "03" or "clone"
#
# Prints one PASS/FAIL line per case (its details above it) and
# "N passed, N failed"; exits non-zero if any case failed or none ran.
# The extension must be installed in the server of `pg_config` (PATH, or
# PG_CONFIG / PG_VERSION as for scripts/test.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/pg_select.sh || exit 1
source tests/multidb/lib.sh

trap 'cluster_destroy' EXIT
trap 'exit 130' INT TERM

cases=()
for f in tests/multidb/[0-9]*_*.sh; do
  if [ $# -eq 0 ]; then cases+=("$f"); continue; fi
  for pat in "$@"; do
    case "$(basename "$f")" in *"$pat"*) cases+=("$f"); break;; esac
  done
done
if [ ${#cases[@]} -eq 0 ]; then echo "no case matches: $*" >&2; echo "0 passed, 1 failed"; exit 1; fi

rm -f "$MDB_DIR".*.log
passed=0
failed=0
for f in "${cases[@]}"; do
  name=$(basename "$f" .sh)
  echo "--- $name"
  if ! cluster_init >/dev/null 2>"$MDB_DIR.init.err"; then
    echo "FAIL $name: the cluster did not start: $(tail -3 "$MDB_DIR.init.err" 2>/dev/null) $(tail -3 "$MDB_DIR/server.log" 2>/dev/null)"
    failed=$((failed + 1))
    continue
  fi
  # Each case runs in a subshell that kills the background jobs it started.
  ( trap 'j=$(jobs -p); [ -n "$j" ] && kill $j 2>/dev/null; wait 2>/dev/null' EXIT
    source "$f" ) 2>&1 | sed 's/^/    /'
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    cp "$MDB_DIR/server.log" "$MDB_DIR.$name.log" 2>/dev/null
    echo "FAIL $name (server log kept in $MDB_DIR.$name.log)"
    failed=$((failed + 1))
  fi
  cluster_destroy
done
rm -f "$MDB_DIR.init.err"
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
