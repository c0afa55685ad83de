# An immediate stop (a crash) and a start: in both databases every version
# is raised above everything handed out before, and both are served again.

for db in app1 app2; do make_app "$db" || die "setting up $db"; done
for db in app1 app2; do wait_served "$db" >/dev/null || die "$db not served"; done
for k in 1 2 3; do commit_one app1 $k; commit_one app2 $k; commit_one app2 $k; done
# A commit without waiting for its bump, just before the crash.
q app1 "SET fraiseql_cache.wait_for_bump = off; UPDATE tv_item SET n = n + 1 WHERE k = 1"
# Every pair seen, and a never-seen tenant (the floor).
seen() { pairs "$1"; echo "$NEVER item $(ver "$1" $NEVER item)"; }
declare -A before
for db in app1 app2; do before[$db]=$(seen "$db") || die "reading $db"; done
cluster_stop immediate || die "pg_ctl stop -m immediate"
cluster_start || die "start after the immediate stop"
for db in app1 app2; do
  ms=$(wait_served "$db"); expect $? "$db served again after the crash ($ms ms)"
done
for db in app1 app2; do
  after=$(seen "$db")
  max_before=$(awk '{print $3}' <<<"${before[$db]}" | sort -n | tail -1)
  min_after=$(awk '{print $3}' <<<"$after" | sort -n | head -1)
  # Per pair: raised (a pair missing after the crash counts as not raised).
  not_raised=$(join <(sort <<<"${before[$db]}" | awk '{print $1"/"$2, $3}' | sort) \
                    <(sort <<<"$after" | awk '{print $1"/"$2, $3}' | sort) -a1 -e MISSING -o 0,1.2,2.2 |
               awk '$3 == "MISSING" || $3 <= $2' | wc -l)
  n=$(wc -l <<<"${before[$db]}")
  [ "$n" -ge 5 ] && [ "$not_raised" -eq 0 ] && [ "$min_after" -gt "$max_before" ]
  expect $? "$db: $n pairs, $not_raised not raised; lowest after $min_after > highest before $max_before"
done
for db in app1 app2; do
  r=$(bumps_once "$db" 2); expect $? "$db: a commit after the crash bumps once: $r"
done
finish
