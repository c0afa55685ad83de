# A measurement, not asserted: the cost in app1 of current_version() and of a
# one-row committed UPDATE with app1 the only served database, with a second
# served database idle, and with writers committing in the second one.
# Fails only if a figure could not be measured.

CYCLES=${MDB_BENCH_CYCLES:-3} RUNS_CV=5 RUNS_UPD=3 CALLS=200000 SECONDS_UPD=${MDB_BENCH_SECONDS:-3} RATE2=${MDB_BENCH_RATE:-500}
make_app app1 || die "setting up app1"
wait_served app1 >/dev/null || die "app1 not served"
q app1 "CREATE FUNCTION cv_loop(calls int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz := clock_timestamp(); v bigint;
BEGIN
  FOR i IN 1 .. calls LOOP v := fraiseql_cache.current_version('$(tenant 1)', 'item'); END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1e9 / calls;
END \$\$" || die "creating the loop function"
echo "UPDATE tv_item SET n = n + 1 WHERE id = 1;" >"$MDB_DIR/update1.sql"

median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }
# One run of each figure, appended to $MDB_DIR/<config>.cv and .upd.
measure() {
  local i out
  for i in $(seq $RUNS_CV); do q app1 "SELECT round(cv_loop($CALLS)::numeric, 1)"; done >>"$MDB_DIR/$1.cv"
  for i in $(seq $RUNS_UPD); do
    out=$(bench -n -c 1 -T "$SECONDS_UPD" -f "$MDB_DIR/update1.sql" app1 2>&1)
    sed -n -E 's/^latency average = ([0-9.]+) ms.*/\1/p' <<<"$out"
  done >>"$MDB_DIR/$1.upd"
}

# The three set-ups in turn, CYCLES times, so that a change in the machine's
# load spreads over all three; app2 is created and dropped in each cycle.
q app1 "SELECT cv_loop($CALLS)" >/dev/null  # warm-up: plans cached, pages in memory
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
committed=0 busy_ns=0
for cycle in $(seq "$CYCLES"); do
  measure one
  make_app app2 || die "setting up app2"
  wait_served app2 >/dev/null || die "app2 not served"
  measure idle
  "$MDB_BINDIR/pgbench" -n -c 2 -j 2 -R "$RATE2" -T 600 -f "$(writer_script)" app2 >"$MDB_DIR/bench_app2.out" 2>&1 &
  load=$!
  sleep 1
  kill -0 "$load" 2>/dev/null || die "the writers in app2 did not start: $(tail -3 "$MDB_DIR/bench_app2.out")"
  c0=$(txcount app2); t0=$(date +%s%N)
  measure busy
  c1=$(txcount app2); t1=$(date +%s%N)
  kill "$load" 2>/dev/null; wait "$load" 2>/dev/null
  committed=$((committed + c1 - c0)); busy_ns=$((busy_ns + t1 - t0))
  q postgres "DROP DATABASE app2" || die "DROP DATABASE app2"
  wait_no_worker app2 10 || die "app2's worker still running after DROP DATABASE"
done
rate=$(( committed * 1000000000 / (busy_ns > 0 ? busy_ns : 1) ))

cell() { median <"$MDB_DIR/$1"; }
printf '%-50s %14s %14s %24s\n' "in app1, median of $((CYCLES * RUNS_CV)) / $((CYCLES * RUNS_UPD)) runs" "one database" "two, app2 idle" "two, app2 ~$rate commits/s"
printf '%-50s %14s %14s %24s\n' "current_version(), ns per call (PL/pgSQL loop)" "$(cell one.cv)" "$(cell idle.cv)" "$(cell busy.cv)"
printf '%-50s %14s %14s %24s\n' "1-row committed UPDATE, ms (pgbench -c 1, ${SECONDS_UPD} s)" "$(cell one.upd)" "$(cell idle.upd)" "$(cell busy.upd)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
short=0
for f in one idle busy; do
  [ "$(grep -c . "$MDB_DIR/$f.cv")" -eq $((CYCLES * RUNS_CV)) ] && [ "$(grep -c . "$MDB_DIR/$f.upd")" -eq $((CYCLES * RUNS_UPD)) ] || short=1
done
[ "$short" -eq 0 ] && [ "$rate" -gt 0 ]; expect $? "every figure measured (app2's writers committed $committed transactions during the busy runs)"
finish
