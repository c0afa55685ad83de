# fraiseql_cache.max_databases = 2 (set, then a restart): a third database's
# CREATE EXTENSION fails with 53400 naming the setting, creates nothing, and
# the two served databases stay served.

cluster_conf "fraiseql_cache.max_databases = 2"
cluster_stop fast && cluster_start || die "restart with max_databases = 2"
setting=$(q postgres "SHOW fraiseql_cache.max_databases")
[ "$setting" = 2 ] || die "fraiseql_cache.max_databases is '$setting' after the restart"
for db in app1 app2; do make_app "$db" || die "setting up $db (within the bound)"; done
for db in app1 app2; do wait_served "$db" >/dev/null || die "$db not served"; done
w1=$(worker_of app1); w2=$(worker_of app2)

q postgres "CREATE DATABASE app3" || die "CREATE DATABASE app3"
out=$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d app3 -c "CREATE EXTENSION pg_fraiseql_cache" 2>&1); rc=$?
state=$(sed -n -E 's/^(psql:[^E]*)?ERROR: +([0-9A-Z]{5}): .*/\2/p' <<<"$out" | head -1)
[ "$rc" -ne 0 ] && [ "$state" = 53400 ] && grep -q "max_databases" <<<"$out"
expect $? "CREATE EXTENSION in a third database: SQLSTATE ${state:-none}, message: $(head -2 <<<"$out" | tr '\n' ' ')"
left=$(q app3 "SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'pg_fraiseql_cache') + (SELECT count(*) FROM pg_namespace WHERE nspname = 'fraiseql_cache')")
[ "$left" = 0 ]; expect $? "nothing created in app3 (extension + schema rows: $left)"
sleep 1
[ -z "$(worker_of app3)" ]; expect $? "no worker in app3 ('$(worker_of app3)')"
[ "$(worker_of app1)" = "$w1" ] && [ "$(worker_of app2)" = "$w2" ]
expect $? "the workers of app1 ($w1) and app2 ($w2) kept running"
for db in app1 app2; do
  r=$(bumps_once "$db" 1); expect $? "$db still served: $r"
done
finish
