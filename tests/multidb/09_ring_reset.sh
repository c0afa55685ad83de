# Each database has its own ring: with app1's worker stopped (SIGSTOP) and
# its 16-slot ring overflowing, app2 keeps being served exactly; the reset
# that follows in app1 (every pair and the floor bumped) moves nothing in app2.

cluster_conf "fraiseql_cache.ring_size = 16"
cluster_stop fast && cluster_start || die "restart with ring_size = 16"
for db in app1 app2; do make_app "$db" || die "setting up $db"; done
for db in app1 app2; do wait_served "$db" >/dev/null || die "$db not served"; done
[ "$(q app1 "SELECT ring_size FROM fraiseql_cache.stats()")" = 16 ] || die "ring_size is not 16"
for k in 1 2 3; do commit_one app1 $k || die "commit in app1"; done
sleep 0.3
w1=$(worker_of app1)
[ -n "$w1" ] || die "no worker in app1"
b1=$(pairs app1); never1=$(ver app1 $NEVER item); resets1=$(q app1 "SELECT resets FROM fraiseql_cache.stats()")
b2=$(pairs app2); never2=$(ver app2 $NEVER item)
s2=$(counts_snapshot app2)

trap 'kill -CONT '"$w1"' 2>/dev/null; j=$(jobs -p); [ -n "$j" ] && kill $j 2>/dev/null; wait 2>/dev/null' EXIT
kill -STOP "$w1" || die "SIGSTOP of app1's worker $w1"
# 10 transactions of 4 new tenants each into app1: 40 pairs for 16 slots.
failed=0
for i in $(seq 10); do
  q app1 "SET fraiseql_cache.wait_for_bump = off; SET fraiseql_cache.wait_timeout_ms = 200;
          INSERT INTO tv_other SELECT 1000 + $i * 10 + g, gen_random_uuid() FROM generate_series(1, 4) g" || failed=$((failed + 1))
done
expect "$failed" "10 commits into app1 with its worker stopped and its ring full: $failed failed"
# app2 meanwhile: served, exact.
for i in 1 2 3; do for k in 1 2 3; do commit_one app2 $k || die "commit in app2 while app1's worker is stopped"; done; done
r=$(counts_check app2 "$s2"); expect $? "app2 while app1's worker was stopped: $r"
kill -CONT "$w1"

moved=1
for _ in $(seq 100); do
  if [ "$(ver app1 $NEVER item)" -gt "$never1" ]; then moved=0; break; fi
  sleep 0.1
done
resets1_after=$(q app1 "SELECT resets FROM fraiseql_cache.stats()")
a1=$(pairs app1)
unmoved1=$(join <(awk '{print $1"/"$2, $3}' <<<"$b1" | sort) <(awk '{print $1"/"$2, $3}' <<<"$a1" | sort) | awk '$3 <= $2' | wc -l)
[ "$moved" -eq 0 ] && [ "$resets1_after" -gt "$resets1" ] && [ "$unmoved1" -eq 0 ]
expect $? "app1 was reset once its worker ran again: resets $resets1 -> $resets1_after, never-seen tenant $never1 -> $(ver app1 $NEVER item), pairs not moved $unmoved1 of $(wc -l <<<"$b1")"
sleep 0.5
# app2: only its own nine commits moved it (counts_check above); nothing since.
untouched2=$(awk '$2 == "other"' <<<"$b2"); untouched2_after=$(pairs app2 | awk '$2 == "other"')
[ -n "$untouched2" ] && [ "$untouched2" = "$untouched2_after" ] && [ "$(ver app2 $NEVER item)" = "$never2" ]
expect $? "the reset in app1 moved nothing in app2: pairs of 'other' $(tr '\n' ' ' <<<"$untouched2_after"), never-seen tenant $never2 -> $(ver app2 $NEVER item)"
r=$(counts_check app2 "$s2"); expect $? "app2 still exactly its own commits: $r"
finish
