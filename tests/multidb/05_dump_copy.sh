# pg_dump app1 | psql copy1: writes to tracked tables in copy1 succeed at
# once and are served, and copy1 never hands out a version app1 handed out
# before the copy (per pair, and for never-seen tenants).

make_app app1 || die "setting up app1"
wait_served app1 >/dev/null || die "app1 not served"
for i in 1 2 3; do for k in 1 2 3; do commit_one app1 $k || die "commit in app1"; done; done
q app1 "SELECT fraiseql_cache.invalidate('$(tenant 2)', 'manual')" >/dev/null || die "invalidate in app1"
# What app1 handed out before the copy: every pair's current version is the
# largest it ever had; the never-seen tenant reads the floor.
handed=$(pairs app1; echo "$NEVER item $(ver app1 $NEVER item)"; echo "$NEVER manual $(ver app1 $NEVER manual)")
q postgres "CREATE DATABASE copy1" || die "CREATE DATABASE copy1"
"$MDB_BINDIR/pg_dump" -h "$MDB_DIR" -p "$MDB_PORT" -U postgres app1 >"$MDB_DIR/app1.sql" || die "pg_dump app1"
# As `pg_dump app1 | psql copy1` does: psql goes on after an error; each is reported.
out=$(psql -X -q -d copy1 -f "$MDB_DIR/app1.sql" 2>&1 >/dev/null) || die "psql copy1 could not run the dump"
errors=$(grep -c "ERROR:" <<<"$out")
[ "$errors" -eq 0 ]; expect $? "pg_dump app1 | psql copy1: $errors error(s) $(grep -A2 "ERROR:" <<<"$out" | head -6)"
tracked=$(q copy1 "SELECT count(*) FROM fraiseql_cache.tracked_tables") || die "the extension is not in copy1"
[ "$tracked" = 2 ] || die "copy1 has $tracked tracked tables, not 2"

# At once, without waiting for the worker.
out=$(q copy1 "UPDATE tv_item SET n = n + 1 WHERE k = 3; UPDATE tv_other SET id = id" 2>&1)
expect $? "writes to tracked tables in copy1 right after the restore $out"
ms=$(wait_served copy1); expect $? "copy1 served ($ms ms)"
r=$(bumps_once copy1 1); expect $? "a commit in copy1 bumps once: $r"

bad=0; msg=""
while read -r t d v_app1; do
  v=$(ver copy1 "$t" "$d") || { bad=1; continue; }
  msg+="$d/${t: -2} $v > $v_app1, "
  [ "$v" -gt "$v_app1" ] || bad=1
done <<<"$handed"
n=$(wc -l <<<"$handed")
[ "$n" -ge 6 ]; expect $? "pairs compared: $n"
expect $bad "copy1 above everything app1 handed out before the copy: ${msg%, }"
a1=$(pairs app1)
commit_one copy1 2 || die "commit in copy1"
[ "$(pairs app1)" = "$a1" ]; expect $? "a commit in copy1 changes nothing in app1"
finish
