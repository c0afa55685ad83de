# A worker that dies is started again; DROP EXTENSION stops the database's
# worker and leaves the others alone; CREATE EXTENSION again serves it with
# higher versions; DROP DATABASE (no FORCE) of a served database works.

for db in app1 app2; do make_app "$db" || die "setting up $db"; done
for db in app1 app2; do wait_served "$db" >/dev/null || die "$db not served"; done
for k in 1 2 3; do commit_one app2 $k || die "commit in app2"; done

# A worker killed: started again, the other database's worker untouched.
w1=$(worker_of app1); w2=$(worker_of app2)
q postgres "SELECT pg_terminate_backend($w1)" >/dev/null
sleep 0.2
ms=$(wait_served app1); rc=$?
w1_new=$(worker_of app1)
[ "$rc" -eq 0 ] && [ "$w1_new" != "$w1" ]; expect $? "app1's worker $w1 terminated: a new one, $w1_new, serves app1 ($ms ms)"
[ "$(worker_of app2)" = "$w2" ]; expect $? "app2's worker $w2 kept running"
r=$(bumps_once app1 1); expect $? "app1 after its worker was restarted: $r"
w1=$w1_new

old=$(pairs app2; echo "$NEVER item $(ver app2 $NEVER item)")
q app2 "DROP EXTENSION pg_fraiseql_cache CASCADE" || die "DROP EXTENSION in app2"
wait_no_worker app2 5; expect $? "no worker connected to app2 within 5 s of DROP EXTENSION (now: '$(worker_of app2)')"
[ "$(worker_of app1)" = "$w1" ]; expect $? "app1's worker $w1 kept running"
r=$(bumps_once app1 2); expect $? "app1 unaffected: $r"

q app2 "CREATE EXTENSION pg_fraiseql_cache" || die "CREATE EXTENSION again in app2"
q app2 "SELECT fraiseql_cache.setup_table_invalidation('tv_item'); SELECT fraiseql_cache.setup_table_invalidation('tv_other')" >/dev/null || die "tracking again in app2"
ms=$(wait_served app2); expect $? "app2 served again ($ms ms)"
bad=0; msg=""
while read -r t d v_old; do
  v=$(ver app2 "$t" "$d"); msg+="$d/${t: -2} $v_old -> $v, "
  [ -n "$v" ] && [ "$v" -gt "$v_old" ] || bad=1
done <<<"$old"
[ "$(wc -l <<<"$old")" -ge 5 ] || bad=1
expect $bad "versions above the old ones: ${msg%, }"
r=$(bumps_once app2 3); expect $? "a commit in app2 bumps once: $r"

w2=$(worker_of app2)
out=$(q postgres "DROP DATABASE app2" 2>&1); expect $? "DROP DATABASE app2 (no FORCE) while served by worker $w2 $out"
wait_no_worker app2 5; expect $? "no worker for app2 afterwards"
[ "$(worker_of app1)" = "$w1" ]; expect $? "app1's worker $w1 kept running"
r=$(bumps_once app1 3); expect $? "app1 unaffected: $r"
finish
