#!/usr/bin/env bash
# pg_dump of the served database, pg_restore into a new one: registrations,
# cascade rules and versions come back (extension configuration tables), and
# the restored triggers are the same. Needs PG* variables for the cluster.
set -euo pipefail
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

SRC=${PGDATABASE:?}
DST=${SRC}_restored
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$DST" >/dev/null 2>&1 || true' EXIT

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

q "$SRC" "CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache"
q "$SRC" "DROP SCHEMA IF EXISTS dump_rt CASCADE"
q "$SRC" "CREATE SCHEMA dump_rt; CREATE TABLE dump_rt.tv_order (id int PRIMARY KEY, tenant_id uuid, total int)"
q "$SRC" "SELECT fraiseql_cache.setup_table_invalidation('dump_rt.tv_order')"
q "$SRC" "INSERT INTO fraiseql_cache.cascade_rules VALUES ('order', 'invoice', 'invalidate') ON CONFLICT DO NOTHING"
q "$SRC" "INSERT INTO dump_rt.tv_order SELECT g, ('00000000-0000-0000-0000-00000000000' || (g % 2 + 1))::uuid, g FROM generate_series(1, 10) g"

snapshot() {
  q "$1" "SELECT string_agg(table_schema || '.' || table_name || '=' || domain || '/' || coalesce(tenant_column, '-'), ',' ORDER BY table_schema, table_name) FROM fraiseql_cache.tracked_tables"
  q "$1" "SELECT string_agg(source_domain || '>' || target_domain || ':' || rule_type, ',' ORDER BY source_domain, target_domain) FROM fraiseql_cache.cascade_rules"
  q "$1" "SELECT string_agg(tenant_id || '/' || domain || '=' || version, ',' ORDER BY tenant_id, domain) FROM fraiseql_cache.domain_version"
  q "$1" "SELECT string_agg(domain || '=' || owner::text, ',' ORDER BY domain) FROM fraiseql_cache.domains"
  q "$1" "SELECT string_agg(domain || '=' || floor, ',' ORDER BY domain) FROM fraiseql_cache.domain_floor"
  q "$1" "SELECT string_agg(tgname || ':' || tgenabled::text || ':' || encode(tgargs, 'escape'), ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'dump_rt.tv_order'::regclass"
}

pg_dump -Fc -d "$SRC" -f "$work/dump"
dropdb --if-exists "$DST"
createdb "$DST"
pg_restore -d "$DST" "$work/dump"

snapshot "$SRC" >"$work/src"
snapshot "$DST" >"$work/dst"
if ! diff -u "$work/src" "$work/dst"; then
  echo "dump round trip: restored state differs" >&2
  exit 1
fi
# The snapshot must hold what was set up, or the comparison proves nothing.
grep -q 'dump_rt.tv_order=order/tenant_id' "$work/dst"
grep -q 'order>invoice:invalidate' "$work/dst"
grep -q '00000000-0000-0000-0000-000000000001/order=' "$work/dst"
grep -q 'zz_fraiseql_cache_row:A:order' "$work/dst"
q "$SRC" "DROP SCHEMA dump_rt CASCADE; DELETE FROM fraiseql_cache.cascade_rules WHERE source_domain = 'order'"
echo "dump round trip: registrations, rules, versions and triggers restored"
