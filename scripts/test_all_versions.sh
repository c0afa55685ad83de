#!/usr/bin/env bash
# Runs the test suites (scripts/test.sh) against every PostgreSQL server
# found, one throwaway cluster and port each, as `make test-all-versions`.
#
# Environment:
#   PG_CONFIGS     space-separated pg_config paths to test (default: found in
#                  PATH, /usr/lib/postgresql/*/bin, /opt/pg_fraiseql_cache/pg*/bin,
#                  /usr/pgsql-*/bin, /usr/local/pgsql*/bin)
#   FC_TEST_WHAT   what scripts/test.sh runs for each (default integration:
#                  every suite that needs a server; `all` adds the unit tests)
#   FC_PORT_BASE   first port (default 55440); server i gets FC_PORT_BASE + i
#   FC_CLUSTER_BASE  cluster directories are <this>-pg<NN> (default
#                  /tmp/pg_fraiseql_cache_versions)
#   FC_SID_BUILD   1 (default): when no PostgreSQL 18 is found and PG_CONFIGS
#                  is unset, build it from Debian sid's source package first
#                  (scripts/build_pg_from_sid.sh, cached); 0: don't
#
#   scripts/test_all_versions.sh --list   only list the servers it would test
#
# Prints one line per server and closes with "N passed, N failed" (servers).
set -uo pipefail
LIST_ONLY=
case "${1:-}" in
  "") ;;
  --list) LIST_ONLY=1 ;;
  *) echo "usage: $0 [--list]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
ROOT=$(pwd)
fc_pg_major() { "$1" --version 2>/dev/null | sed -n -E 's/^PostgreSQL ([0-9]+).*/\1/p'; }
WHAT=${FC_TEST_WHAT:-integration}
PORT_BASE=${FC_PORT_BASE:-55440}
CLUSTER_BASE=${FC_CLUSTER_BASE:-/tmp/pg_fraiseql_cache_versions}
LOGDIR=$ROOT/build/versions
case "$PORT_BASE" in ''|*[!0-9]*) echo "test_all_versions: FC_PORT_BASE must be a port number" >&2; exit 2;; esac
mkdir -p "$LOGDIR"

candidates() {
  command -v pg_config 2>/dev/null || true
  ls -1 /usr/lib/postgresql/*/bin/pg_config /opt/pg_fraiseql_cache/pg*/bin/pg_config \
        /usr/pgsql-*/bin/pg_config /usr/local/pgsql*/bin/pg_config 2>/dev/null || true
}

passed=0
failed=0
configs=()
seen_bindirs=" "
add_config() {  # one entry per server install (its bindir), in the order found
  local pc=$1 bindir
  bindir=$("$pc" --bindir 2>/dev/null) || { echo "skipped: $pc does not run"; return; }
  bindir=$(readlink -f "$bindir")
  case "$seen_bindirs" in *" $bindir "*) return;; esac
  if [ ! -x "$bindir/pg_ctl" ] || [ ! -x "$bindir/initdb" ]; then
    echo "skipped: $pc (no server binaries in $bindir)"
    return
  fi
  seen_bindirs="$seen_bindirs$bindir "
  configs+=("$pc")
}

if [ -n "${PG_CONFIGS:-}" ]; then
  for pc in $PG_CONFIGS; do
    if [ ! -x "$pc" ]; then
      echo "PG_CONFIGS: $pc is not an executable pg_config"
      failed=$((failed + 1))
      continue
    fi
    add_config "$pc"
  done
else
  while IFS= read -r pc; do [ -n "$pc" ] && add_config "$pc"; done < <(candidates)
  have18=
  for pc in "${configs[@]}"; do [ "$(fc_pg_major "$pc")" = 18 ] && have18=1; done
  if [ -z "$have18" ] && [ "${FC_SID_BUILD:-1}" = 1 ] && [ -z "$LIST_ONLY" ]; then
    echo "no PostgreSQL 18 found: building it from Debian sid's source package (log: $LOGDIR/sid-build.log)"
    if scripts/build_pg_from_sid.sh >"$LOGDIR/sid-build.log" 2>&1; then
      add_config "$(tail -n1 "$LOGDIR/sid-build.log")"
    else
      tail -n 5 "$LOGDIR/sid-build.log"
      echo "PostgreSQL 18 (Debian sid source): FAILED to build"
      failed=$((failed + 1))
    fi
  fi
fi

found_majors=" "
i=0
for pc in "${configs[@]}"; do
  major=$(fc_pg_major "$pc")
  found_majors="$found_majors$major "
  dir=$CLUSTER_BASE-pg$major
  case "$found_majors" in *" $major "*" $major "*) dir=$dir-$i;; esac  # a second server of that major
  port=$((PORT_BASE + i))
  log=$LOGDIR/pg$major-$i.log
  i=$((i + 1))
  if [ -n "$LIST_ONLY" ]; then echo "$("$pc" --version) ($pc): would run on port $port, cluster $dir"; continue; fi
  PG_VERSION='' PG_CONFIG=$pc FRAISEQL_CLUSTER_DIR=$dir FRAISEQL_PORT=$port \
    scripts/test.sh "$WHAT" >"$log" 2>&1
  rc=$?
  summary=$(grep -E '^suites: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
  failed_suites=$(sed -n 's/^failed suites: //p' "$log" | tail -n1)
  version=$("$pc" --version)
  if [ "$rc" -eq 0 ] && [ -n "$summary" ]; then
    echo "$version ($pc, port $port): ok, $summary"
    passed=$((passed + 1))
  else
    [ -z "$summary" ] && summary="no suite ran: $(grep -v '^\s*$' "$log" | tail -n1)"
    echo "$version ($pc, port $port): FAILED, $summary${failed_suites:+ (failed: $failed_suites)}; log $log"
    failed=$((failed + 1))
  fi
done

missing=()
for v in 14 15 16 17 18 19; do
  case "$found_majors" in *" $v "*) ;; *) missing+=("$v");; esac
done
[ ${#configs[@]} -eq 0 ] && echo "no PostgreSQL server found"
if [ ${#missing[@]} -gt 0 ]; then
  echo "not found (not tested): PostgreSQL ${missing[*]}"
fi
[ -n "$LIST_ONLY" ] && exit $((failed > 0))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
