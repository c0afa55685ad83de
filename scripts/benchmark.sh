#!/usr/bin/env bash
# `make benchmark`: what pg_fraiseql_cache costs and what it saves, with
# numbers anyone can regenerate. Writes bench/RESULTS.md.
#
#   scripts/benchmark.sh
#
# Builds and installs the extension and the no-op C trigger (bench/noop_trigger),
# builds the Google Benchmark program (meson, build/bench, buildtype=release),
# starts one throwaway cluster (scripts/cluster.sh), and runs, in order:
#
#   bench/micro.py        in-process structures (Google Benchmark), no server
#   bench/write_cost.py   10k-row UPDATE, 1-row UPDATE (mean, p50, worker CPU
#                         per batch), COPY per variant
#   bench/concurrency.py  pgbench, 8 writers, 1 ms in each transaction
#   bench/reads.py        current_version() vs PK lookup vs SELECT 1
#   bench/lag.py          COMMIT -> NOTIFY at 200 commits/s
#   bench/throughput.py   worker pair bumps/s (sustained, default settings)
#   bench/shmem.py        shared memory per pair (default settings)
#   then restarts the same cluster with ring_size = 524288, max_entries = 262144 for
#   bench/throughput.py --mode single (one 100k-tenant transaction) and
#   bench/shmem.py again; bench/report.py assembles bench/RESULTS.md, its
#   Targets table showing the last round's figures (bench/last_round.json)
#   beside this round's, and writes this round's figures in the same shape
#   (bench/RESULTS_round.json: copy it over bench/last_round.json to move on).
#
# Environment: FRAISEQL_CLUSTER_DIR (default /tmp/fc_bench), FRAISEQL_PORT
# (default 55434), FRAISEQL_DB, BENCH_RESULTS (default bench/RESULTS.md),
# BENCH_SEED_COMPARISON (default bench/SEED_COMPARISON.md, or next to
# BENCH_RESULTS when that is set), BENCH_ROUND (default BENCH_RESULTS with
# _round.json for .md), BENCH_LAST_ROUND (default bench/last_round.json),
# BENCH_GIT_REV (the commit to report, default git rev-parse), PG_CONFIG
# (default pg_config in PATH: the server built for, installed into and run),
# BENCH_ROUNDS (runs per figure, default 10), BENCH_QUICK=1 (2 runs, shorter:
# a smoke test of the drivers, not numbers to quote), BENCH_PYTHON.
# The cluster is stopped on exit, failure included; rerunning starts afresh.
# It measures and reports; it never fails on time (it fails if a driver
# fails, after writing what it has).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

export FRAISEQL_CLUSTER_DIR=${FRAISEQL_CLUSTER_DIR:-/tmp/fc_bench}
export FRAISEQL_PORT=${FRAISEQL_PORT:-55434}
export FRAISEQL_DB=${FRAISEQL_DB:-fraiseql_test}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}
if [ -n "${BENCH_RESULTS:-}" ]; then
  export BENCH_SEED_COMPARISON=${BENCH_SEED_COMPARISON:-${RESULTS%.md}_seed_comparison.md}
else
  export BENCH_SEED_COMPARISON=${BENCH_SEED_COMPARISON:-$ROOT/bench/SEED_COMPARISON.md}
fi
ROUND_FILE=${BENCH_ROUND:-${RESULTS%.md}_round.json}
LAST_ROUND=${BENCH_LAST_ROUND-$ROOT/bench/last_round.json}
export PG_CONFIG=${PG_CONFIG:-pg_config}
PATH=$("$PG_CONFIG" --bindir):$PATH   # psql, pgbench of the same server
PYTHON=${BENCH_PYTHON:-/usr/bin/python3}   # Debian's, which has python3-psycopg
export PYTHONDONTWRITEBYTECODE=1
ROUNDS=${BENCH_ROUNDS:-10}
# The one-transaction run: a transaction of more pairs than a quarter of the
# ring is handed off as whole-domain bumps, so the ring holds 4 × 100,001.
BIG_RING=524288
BIG_ENTRIES=262144

started=$(date +%s)
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
work=$(mktemp -d /tmp/fc_bench_results.XXXXXX)
stop_cluster() {
  "$ROOT/scripts/cluster.sh" stop >/dev/null 2>&1 || true
}
trap 'stop_cluster; rm -rf "$work"' EXIT

if ! "$PYTHON" -c 'import psycopg' 2>/dev/null; then
  echo "benchmark: $PYTHON cannot import psycopg (apt-get install python3-psycopg)" >&2
  exit 1
fi
PGBENCH=${PGBENCH:-$("$PG_CONFIG" --bindir)/pgbench}
if [ ! -x "$PGBENCH" ]; then
  echo "benchmark: pgbench not found at $PGBENCH (set PGBENCH)" >&2
  exit 1
fi
export PGBENCH

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  ROUNDS=2
  quick_conc=(--seconds 1)
  quick_reads=(--seconds 1 --loop-rounds 3)
  quick_lag=(--seconds 1)
  quick_tp=(--seconds 1)
else
  quick_conc=() quick_reads=() quick_lag=() quick_tp=()
fi

echo "benchmark: building and installing pg_fraiseql_cache and fraiseql_bench_noop"
# The state of the sources as built (the report is written minutes later).
if [ -n "${BENCH_GIT_REV:-}" ]; then
  git_built=$BENCH_GIT_REV
else
  git_built=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if ! git diff --quiet HEAD -- src sql include 2>/dev/null; then
    git_built="$git_built + uncommitted changes in src/sql/include"
  fi
fi
make -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null
make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
make -s -C bench/noop_trigger PG_CONFIG="$PG_CONFIG" >/dev/null
make -s -C bench/noop_trigger PG_CONFIG="$PG_CONFIG" install >/dev/null

micro_bin=""
if [ ! -f build/bench/build.ninja ]; then
  meson setup build/bench --buildtype=release -Dintegration=disabled >/dev/null || true
fi
if [ -f build/bench/build.ninja ] && ninja -C build/bench micro_bench >/dev/null 2>&1 \
   && [ -x build/bench/micro_bench ]; then
  micro_bin=$ROOT/build/bench/micro_bench
else
  echo "benchmark: micro_bench not built (libbenchmark-dev missing?): skipping it" >&2
fi

failed=()
# run NAME DRIVER [ARGS...]: the driver's stdout is NAME.md, its figures NAME.json.
run() {
  local name=$1 driver=$2
  shift 2
  local t0=$(date +%s)
  echo "benchmark: $name: bench/$driver $*"
  if (cd bench && "$PYTHON" "$driver" --json "$work/$name.json" "$@") >"$work/$name.md"; then
    echo "benchmark: $name done in $(( $(date +%s) - t0 ))s"
  else
    echo "benchmark: $name FAILED" >&2
    failed+=("$name")
    : >"$work/$name.md"
  fi
}

if [ -n "$micro_bin" ]; then
  run micro micro.py --binary "$micro_bin" --repetitions "$ROUNDS"
fi

"$ROOT/scripts/cluster.sh" start
eval "$("$ROOT/scripts/cluster.sh" env)"
server_version=$(psql -XAtc 'SHOW server_version')
settings=$(psql -XAtc "SELECT string_agg(name || ' = ' || setting || coalesce(unit, ''), ', ' ORDER BY name)
  FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'max_wal_size',
  'fraiseql_cache.max_entries', 'fraiseql_cache.ring_size', 'fraiseql_cache.wait_for_bump',
  'fraiseql_cache.notify_format', 'jit')")
cat >"$work/meta.json" <<JSON
{"server_version": "$server_version", "load_at_start": "$load_at_start", "git": "$git_built",
 "cluster": "scripts/cluster.sh, port $FRAISEQL_PORT, $FRAISEQL_CLUSTER_DIR; $settings"}
JSON

run write_cost write_cost.py --rounds "$ROUNDS" \
  --variants none,noop,fraiseql,fraiseql_nowait,naive,tracker
run concurrency concurrency.py --rounds "$ROUNDS" "${quick_conc[@]}"
run reads reads.py --rounds "$ROUNDS" "${quick_reads[@]}"
run lag lag.py --runs "$ROUNDS" "${quick_lag[@]}"
run throughput throughput.py --mode sustained --runs "$ROUNDS" "${quick_tp[@]}"
run shmem shmem.py --header --label "defaults"
run seed_comparison seed_comparison.py --commit "$git_built"

echo "benchmark: restarting the cluster with ring_size = $BIG_RING, max_entries = $BIG_ENTRIES"
psql -XAtqc "ALTER SYSTEM SET fraiseql_cache.ring_size = $BIG_RING" \
     -c "ALTER SYSTEM SET fraiseql_cache.max_entries = $BIG_ENTRIES"
"$ROOT/scripts/cluster.sh" restart
run throughput_single throughput.py --mode single --runs "$ROUNDS"
run shmem_large shmem.py --label "ring_size = $BIG_RING, max_entries = $BIG_ENTRIES"
cat "$work/shmem_large.md" >>"$work/shmem.md"
echo >>"$work/shmem.md"

elapsed=$(( $(date +%s) - started ))
(cd bench && "$PYTHON" report.py "$work" --command "make benchmark (scripts/benchmark.sh)" \
  --seconds "$elapsed" --server-version "$server_version" \
  --last-round "$LAST_ROUND" --write-round "$ROUND_FILE") >"$RESULTS"
# The seed's claims, measured side by side (written by seed_comparison.py).
seed_table=$BENCH_SEED_COMPARISON
if [ -f "$seed_table" ]; then
  { echo; cat "$seed_table"; } >>"$RESULTS"
fi

awk '/^## Targets/ { p = 1; print; next } /^## / { p = 0 } p' "$RESULTS"
echo "benchmark: report written to ${RESULTS#"$ROOT"/} (${elapsed}s); this round's figures in ${ROUND_FILE#"$ROOT"/}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "benchmark: drivers that failed: ${failed[*]}" >&2
  exit 1
fi
