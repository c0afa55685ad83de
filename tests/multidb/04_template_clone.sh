# CREATE DATABASE clone TEMPLATE app1 while app1 is served and a writer
# commits in it: the clone is served, its versions are at least the source's
# at clone time, writes in the clone bump the clone only; app1's counts stay
# exact; ALTER DATABASE ... RENAME of a served database works.

make_app app1 || die "setting up app1"
wait_served app1 >/dev/null || die "app1 not served"
start=$(counts_snapshot app1)
timeouts=$(q app1 "SELECT wait_timeouts FROM fraiseql_cache.stats()")
read -r -a s <<<"$start"
# A writer that connects for each transaction (CREATE DATABASE ... TEMPLATE
# needs a moment with no other session in the source).
stop_file=$MDB_DIR/writer.stop
( commits=0 errors=0 slowest=0
  while [ ! -e "$stop_file" ]; do
    t=$(date +%s%N)
    if commit_one app1 $((RANDOM % 3 + 1)) 2>/dev/null; then commits=$((commits + 1)); else errors=$((errors + 1)); fi
    t=$(( ($(date +%s%N) - t) / 1000000 )); [ "$t" -gt "$slowest" ] && slowest=$t
    sleep 0.05
  done
  echo "$commits $errors $slowest" >"$MDB_DIR/writer.count" ) &
writer=$!
sleep 2
t0=$(date +%s%N)
out=$(q postgres "CREATE DATABASE clone TEMPLATE app1" 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect $rc "CREATE DATABASE clone TEMPLATE app1 while a writer commits in app1 ($ms ms) ${out}"
sleep 2
touch "$stop_file"; wait "$writer"
read -r commits errors slowest <"$MDB_DIR/writer.count"
echo "writer: $commits commits, $errors failed attempts (refused connections while the copy ran), slowest attempt $slowest ms (connection included)"
[ "$rc" -eq 0 ] || finish

ms=$(wait_served clone); expect $? "clone served ($ms ms after its first use)"
# The source's versions at clone time, from the data the clone holds: each
# committed transaction in app1 added one to n of its tenant and one txlog row.
low=0; msg=""
for k in 1 2 3; do
  at_clone=$(( s[(k - 1) * 2] + $(n_of clone $k) - s[(k - 1) * 2 + 1] ))
  v=$(ver clone "$(tenant $k)" item)
  msg+="tenant $k $v >= $at_clone, "
  [ "$v" -ge "$at_clone" ] || low=1
done
at_clone=$(( s[6] + $(txcount clone) - s[7] ))
v=$(ver clone $ALL item)
msg+="all-tenants $v >= $at_clone"
[ "$v" -ge "$at_clone" ] || low=1
# Every other pair of app1 (tv_other) as app1 serves it now (nothing wrote there).
while read -r t d v_src; do
  [ "$d" = item ] && continue
  v=$(ver clone "$t" "$d"); msg+=", $d/$t $v >= $v_src"
  [ "$v" -ge "$v_src" ] || low=1
done < <(pairs app1)
expect $low "clone's versions >= app1's at clone time: $msg"

r=$(counts_check app1 "$start"); expect $? "app1 stayed exact through the copy: $r"
echo "commits whose wait for their bump timed out meanwhile: $(( $(q app1 "SELECT wait_timeouts FROM fraiseql_cache.stats()") - timeouts ))"
a_before=$(pairs app1)
r=$(bumps_once clone 1); expect $? "a commit in clone bumps clone: $r"
[ "$(pairs app1)" = "$a_before" ]; expect $? "and nothing in app1"
r=$(bumps_once app1 1); expect $? "app1 still served: $r"

# Renaming a served database.
out=$(q postgres "ALTER DATABASE clone RENAME TO clone_renamed" 2>&1); rc=$?
expect $rc "ALTER DATABASE clone RENAME TO clone_renamed ${out}"
if [ "$rc" -eq 0 ]; then
  ms=$(wait_served clone_renamed); expect $? "clone_renamed served ($ms ms)"
  r=$(bumps_once clone_renamed 2); expect $? "a commit in clone_renamed bumps it: $r"
fi
finish
