# Writers in two databases at once for about 10 s: afterwards each database's
# versions moved by exactly its own committed transactions per pair; then a
# whole-domain bump and a TRUNCATE in app1 change nothing in app2.

for db in app1 app2; do make_app "$db" || die "setting up $db"; done
for db in app1 app2; do wait_served "$db" >/dev/null || die "$db not served"; done
script=$(writer_script)
s1=$(counts_snapshot app1); s2=$(counts_snapshot app2)
for db in app1 app2; do
  "$MDB_BINDIR/pgbench" -n -c 3 -j 3 -T 10 --max-tries=100 -f "$script" "$db" >"$MDB_DIR/bench_$db.out" 2>&1 &
done
wait
for db in app1 app2; do
  processed=$(sed -n -E 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$MDB_DIR/bench_$db.out")
  echo "$db: pgbench committed ${processed:-?} transactions"
  [ -n "$processed" ] && [ "$processed" -gt 0 ] || die "the writers in $db did not run: $(tail -3 "$MDB_DIR/bench_$db.out")"
done
r=$(counts_check app1 "$s1"); expect $? "exact counts in $r"
r=$(counts_check app2 "$s2"); expect $? "exact counts in $r"

# Whole-domain bumps in app1: nothing moves in app2 (pairs, the floor of a
# never-seen tenant, stats().floor).
snap2() { pairs app2; ver app2 $NEVER item; ver app2 $NEVER other; q app2 "SELECT floor FROM fraiseql_cache.stats()"; }
b2=$(snap2); b1=$(pairs app1); never1=$(ver app1 $NEVER item)
q app1 "SELECT fraiseql_cache.invalidate_domain('item')" >/dev/null || die "invalidate_domain in app1"
q app1 "TRUNCATE tv_other" || die "TRUNCATE in app1"
a2=$(snap2); a1=$(pairs app1); never1_after=$(ver app1 $NEVER item)
[ "$b1" != "$a1" ] && [ "$never1_after" -gt "$never1" ]
expect $? "invalidate_domain('item') and TRUNCATE tv_other moved app1 (never-seen tenant $never1 -> $never1_after)"
[ -n "$a2" ] && [ "$b2" = "$a2" ]
expect $? "app2 unchanged: $(wc -l <<<"$a2") values compared (pairs, floors)"
[ "$b2" = "$a2" ] || diff <(echo "$b2") <(echo "$a2") | head -10
finish
