# A measurement, not asserted: the cost in app1 of current_version() and of a
# one-row committed UPDATE with app1 the only served database, with a second
# served database idle, and with writers committing in the second one.
# Fails only if a figure could not be measured.

RUNS_CV=5 RUNS_UPD=3 CALLS=200000 SECONDS_UPD=${MDB_BENCH_SECONDS:-3} RATE2=${MDB_BENCH_RATE:-500}
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
measure() {  # -> "ns_per_current_version update_latency_ms"
  local cv upd i out
  cv=$(for i in $(seq $RUNS_CV); do q app1 "SELECT round(cv_loop($CALLS)::numeric, 1)"; done | median)
  upd=$(for i in $(seq $RUNS_UPD); do
          out=$(bench -n -c 1 -T "$SECONDS_UPD" -f "$MDB_DIR/update1.sql" app1 2>&1)
          sed -n -E 's/^latency average = ([0-9.]+) ms.*/\1/p' <<<"$out"
        done | median)
  echo "${cv:-?} ${upd:-?}"
}

one=$(measure)
make_app app2 || die "setting up app2"
wait_served app2 >/dev/null || die "app2 not served"
two_idle=$(measure)
bench -n -c 2 -j 2 -R "$RATE2" -T 600 -f "$(writer_script)" app2 >"$MDB_DIR/bench_app2.out" 2>&1 &
load=$!
sleep 1
kill -0 "$load" 2>/dev/null || die "the writers in app2 did not start: $(tail -3 "$MDB_DIR/bench_app2.out")"
c0=$(txcount app2)
t0=$(date +%s%N)
two_busy=$(measure)
c1=$(txcount app2); t1=$(date +%s%N)
kill "$load" 2>/dev/null; wait "$load" 2>/dev/null
rate=$(( (c1 - c0) * 1000000000 / (t1 - t0) ))

read -r cv1 up1 <<<"$one"; read -r cv2 up2 <<<"$two_idle"; read -r cv3 up3 <<<"$two_busy"
printf '%-46s %14s %14s %22s\n' "in app1 (median)" "one database" "two, app2 idle" "two, app2 ~$rate commits/s"
printf '%-46s %14s %14s %22s\n' "current_version(), ns per call (PL/pgSQL)" "$cv1" "$cv2" "$cv3"
printf '%-46s %14s %14s %22s\n' "1-row committed UPDATE, ms (pgbench, ${SECONDS_UPD} s)" "$up1" "$up2" "$up3"
all="$cv1 $up1 $cv2 $up2 $cv3 $up3"
[[ "$all" != *"?"* ]] && [ "$rate" -gt 0 ]; expect $? "every figure measured (app2's writers committed $((c1 - c0)) transactions meanwhile)"
finish
