# Two databases created after the server started, the extension created in
# each: both served without a restart, a commit bumps only its own database,
# a LISTENer hears only its own database's notifications.

for db in app1 app2; do
  make_app "$db" || die "setting up $db"
done
for db in app1 app2; do
  ms=$(wait_served "$db"); expect $? "$db served without a restart ($ms ms after setup)"
done
launchers=$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fraiseql_cache launcher'")
[ "$launchers" = 1 ]; expect $? "one launcher running: $launchers"
w1=$(worker_of app1); w2=$(worker_of app2)
[ -n "$w1" ] && [ -n "$w2" ] && [ "$w1" != "$w2" ]; expect $? "a worker of its own in each database: app1 $w1, app2 $w2"
others=$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fraiseql_cache worker' AND datname NOT IN ('app1', 'app2')")
[ "$others" = 0 ]; expect $? "no worker in databases without the extension: $others"

# A commit in one database bumps its pair once there, nothing in the other.
for pair in "app1 app2" "app2 app1"; do
  set -- $pair
  other_before=$(pairs "$2")
  r=$(bumps_once "$1" 1); rc=$?
  other_after=$(pairs "$2")
  [ "$rc" -eq 0 ] && [ "$other_before" = "$other_after" ] && [ -n "$other_after" ]
  expect $? "UPDATE in $1: (tenant 1, item) $r; $2's $(wc -l <<<"$other_after") pairs unchanged"
done

# Listeners: one in each database; app1 writes tenant 2, app2 tenant 3.
for db in app1 app2; do
  printf 'LISTEN cache_invalidation;\nSELECT pg_sleep(3);\n' |
    psql -X -q -At -d "$db" >"$MDB_DIR/listen_$db.out" 2>&1 &
done
sleep 1
v1_before=$(ver app1 "$(tenant 2)" item); v2_before=$(ver app2 "$(tenant 3)" item)
commit_one app1 2 || die "commit in app1"
commit_one app2 3 || die "commit in app2"
v1=$(ver app1 "$(tenant 2)" item); v2=$(ver app2 "$(tenant 3)" item)
wait
for db in app1 app2; do
  if [ "$db" = app1 ]; then own=$(tenant 2); foreign=$(tenant 3); v=$v1; w=$w1; else own=$(tenant 3); foreign=$(tenant 2); v=$v2; w=$w2; fi
  out=$MDB_DIR/listen_$db.out
  heard=$(grep -c "\"tenant_id\": \"$own\", \"domain\": \"item\", \"version\": $v[,}]" "$out")
  foreign_heard=$(grep -c "$foreign" "$out")
  total=$(grep -c 'Asynchronous notification "cache_invalidation"' "$out")
  senders=$(sed -n -E 's/.*received from server process with PID ([0-9]+).*/\1/p' "$out" | sort -u | tr '\n' ' ')
  [ "$heard" = 1 ] && [ "$foreign_heard" = 0 ] && [ "$senders" = "$w " ]
  expect $? "LISTEN in $db: own pair at version $v heard $heard time(s), the other database's tenant $foreign_heard time(s), $total notification(s) in all, sent by pid(s) ${senders:-none} (worker $w)"
done
[ "$v1" -eq $((v1_before + 1)) ] && [ "$v2" -eq $((v2_before + 1)) ]
expect $? "the listened commits bumped once: app1 $v1_before -> $v1, app2 $v2_before -> $v2"
finish
