# The launcher and the step aside survive what an operator or a failure does
# to them, and a restart gives the slots to the databases in use:
#  a. the launcher terminated (pg_terminate_backend) comes back, and a worker
#     terminated after that is started again;
#  b. a session killed while its CREATE DATABASE ... TEMPLATE waits for the
#     worker to step aside lets it go: the worker comes back;
#  c. max_databases = 2, the extension in template1 and five clones of it:
#     after a restart app (used) is served, the clones (never used) took no slot.

make_app app || die "setting up app"
wait_served app >/dev/null || die "app not served"

# a.
l=$(q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'fraiseql_cache launcher'")
q postgres "SELECT pg_terminate_backend($l)" >/dev/null
back=""
for _ in $(seq 100); do
  back=$(q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'fraiseql_cache launcher'")
  [ -n "$back" ] && [ "$back" != "$l" ] && break
  sleep 0.05
done
[ -n "$back" ] && [ "$back" != "$l" ]; expect $? "launcher $l terminated: a new one runs ('$back')"
w=$(worker_of app)
q postgres "SELECT pg_terminate_backend($w)" >/dev/null
sleep 0.2
ms=$(wait_served app); rc=$?
[ "$rc" -eq 0 ] && [ "$(worker_of app)" != "$w" ]; expect $? "then worker $w terminated: a new one serves app ($ms ms)"

# b. The worker is held away by an open transaction of a second session in
# app (CREATE DATABASE waits for it), then the waiting session is killed.
psql -X -q -d app -c "BEGIN; SELECT pg_sleep(8); COMMIT" >/dev/null 2>&1 &
holder=$!
sleep 0.5
psql -X -q -d postgres -c "CREATE DATABASE clone_b TEMPLATE app" >/dev/null 2>&1 &
creator=$!
gone=1
for _ in $(seq 60); do [ -z "$(worker_of app)" ] && { gone=0; break; }; sleep 0.05; done
expect $gone "the worker stepped aside for CREATE DATABASE ... TEMPLATE app"
cpid=$(q postgres "SELECT pid FROM pg_stat_activity WHERE query LIKE 'CREATE DATABASE clone_b%' AND pid <> pg_backend_pid()")
[ -n "$cpid" ] && q postgres "SELECT pg_terminate_backend($cpid)" >/dev/null
wait $creator 2>/dev/null
kill $holder 2>/dev/null; wait $holder 2>/dev/null
ms=$(wait_served app 10); expect $? "the waiting session ($cpid) terminated: app served again ($ms ms)"
r=$(bumps_once app 1); expect $? "app after that: $r"

# c.
q template1 "CREATE EXTENSION pg_fraiseql_cache" || die "extension in template1"
for k in 1 2 3 4 5; do q postgres "CREATE DATABASE clone_$k" || die "CREATE DATABASE clone_$k"; done
cluster_conf "fraiseql_cache.max_databases = 2"
cluster_stop fast && cluster_start || die "restart with max_databases = 2"
ms=$(wait_served app 20); expect $? "after the restart app is served ($ms ms)"
r=$(bumps_once app 2); expect $? "app writes after the restart: $r"
claimed=$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fraiseql_cache worker' AND datname LIKE 'clone_%' OR datname = 'template1' AND backend_type = 'fraiseql_cache worker'")
[ "$claimed" = 0 ]; expect $? "no worker in the unused clones or template1 ($claimed)"
q template1 "DROP EXTENSION pg_fraiseql_cache" >/dev/null 2>&1
finish
