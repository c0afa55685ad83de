#!/usr/bin/env bash
# Instructions (valgrind callgrind) per 10k-row UPDATE with no trigger, a
# no-op C trigger and pg_fraiseql_cache: a count that does not depend on
# what else the machine is doing. Each variant runs in a single-user
# postgres on a copy of one prepared cluster; the cost of one UPDATE is the
# difference between a run of 3 and a run of 1.
#
#   bench/trigger_instructions.sh        (as root; builds nothing: run
#                                         scripts/benchmark.sh or make install first)
set -euo pipefail
cd "$(dirname "$0")/.."
BINDIR=$(pg_config --bindir)
WORK=${FRAISEQL_CG_DIR:-/tmp/fc_callgrind}
export FRAISEQL_CLUSTER_DIR=$WORK/cluster FRAISEQL_PORT=${FRAISEQL_PORT:-55449} FRAISEQL_DB=cg
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

rm -rf "$WORK"; mkdir -p "$WORK"; [ "$(id -u)" = 0 ] && chown postgres "$WORK"
scripts/cluster.sh start >/dev/null
eval "$(scripts/cluster.sh env)"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_fraiseql_cache;
CREATE EXTENSION fraiseql_bench_noop;
CREATE TABLE t_none (id int PRIMARY KEY, tenant_id uuid, label text, n int);
CREATE TABLE t_noop (LIKE t_none INCLUDING ALL);
CREATE TABLE t_fc (LIKE t_none INCLUDING ALL);
INSERT INTO t_none SELECT g, ('00000000-0000-0000-0000-00000000000' || (g % 3 + 1))::uuid, 'x', 0
  FROM generate_series(1, 10000) g;
INSERT INTO t_noop SELECT * FROM t_none;
INSERT INTO t_fc SELECT * FROM t_none;
CREATE TRIGGER noop BEFORE INSERT OR UPDATE OR DELETE ON t_noop
  FOR EACH ROW EXECUTE FUNCTION fraiseql_bench_noop.noop_row();
SELECT fraiseql_cache.setup_table_invalidation('t_fc', 'fc');
VACUUM FULL t_none; VACUUM FULL t_noop; VACUUM FULL t_fc;
SQL
scripts/cluster.sh stop >/dev/null

instructions() {  # table, number of UPDATEs
  local dir=$WORK/data_$1_$2
  cp -a "$WORK/cluster/data" "$dir"
  for _ in $(seq 1 "$2"); do echo "UPDATE $1 SET n = n + 1;"; done >"$WORK/$1_$2.sql"
  as_owner valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$1.$2" \
    "$BINDIR/postgres" --single -D "$dir" cg <"$WORK/$1_$2.sql" >/dev/null 2>&1
  rm -rf "$dir"
  grep -E '^(summary|totals):' "$WORK/cg.$1.$2" | tail -1 | awk '{print $2}'
}

declare -A per
for t in t_none t_noop t_fc; do
  one=$(instructions $t 1); three=$(instructions $t 3)
  per[$t]=$(( (three - one) / 2 ))
done
echo "Instructions per 10k-row UPDATE (callgrind, single-user postgres):"
echo
echo "| variant | instructions | × no trigger | × no-op C trigger |"
echo "|---|---:|---:|---:|"
for t in t_none t_noop t_fc; do
  name=$([ $t = t_none ] && echo "no trigger" || ([ $t = t_noop ] && echo "no-op C trigger" || echo "pg_fraiseql_cache"))
  awk -v n="$name" -v x="${per[$t]}" -v a="${per[t_none]}" -v b="${per[t_noop]}" \
    'BEGIN { printf "| %s | %d | %.3f | %.3f |\n", n, x, x / a, x / b }'
done
rm -rf "$WORK"
