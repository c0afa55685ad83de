# fraiseql_cache.database: empty by default (every database served); set to
# a name, only that database is served: CREATE EXTENSION elsewhere succeeds,
# its functions raise 55000 "not served", and no worker runs there.

sed -i "/^fraiseql_cache.database = ''$/d" "$MDB_DIR/data/postgresql.conf"
cluster_stop fast && cluster_start || die "restart without fraiseql_cache.database"
default=$(q postgres "SELECT setting || '|' || boot_val FROM pg_settings WHERE name = 'fraiseql_cache.database'")
[ "$default" = "|" ]; expect $? "fraiseql_cache.database defaults to the empty string (setting|default: '$default')"

cluster_conf "fraiseql_cache.database = 'app1'"
cluster_stop fast && cluster_start || die "restart with fraiseql_cache.database = 'app1'"
make_app app1 || die "setting up app1"
ms=$(wait_served app1); expect $? "app1, the named database, served ($ms ms)"
q postgres "CREATE DATABASE app2" || die "CREATE DATABASE app2"
out=$(q app2 "CREATE EXTENSION pg_fraiseql_cache" 2>&1); expect $? "CREATE EXTENSION in app2 succeeds $out"
for call in "SELECT fraiseql_cache.current_version('$(tenant 1)', 'item')" "SELECT * FROM fraiseql_cache.stats()" \
            "CREATE TABLE tv_x (id int, tenant_id uuid); SELECT fraiseql_cache.setup_table_invalidation('tv_x')"; do
  out=$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d app2 -c "$call" 2>&1); rc=$?
  state=$(sed -n -E 's/^(psql:[^E]*)?ERROR: +([0-9A-Z]{5}): .*/\2/p' <<<"$out" | head -1)
  [ "$rc" -ne 0 ] && [ "$state" = 55000 ] && grep -q "not served" <<<"$out"
  expect $? "in app2: ${call:0:60}...: SQLSTATE ${state:-none}: $(head -1 <<<"$out")"
done
sleep 1
[ -z "$(worker_of app2)" ]; expect $? "no worker in app2 ('$(worker_of app2)')"
r=$(bumps_once app1 1); expect $? "app1 served: $r"
finish
