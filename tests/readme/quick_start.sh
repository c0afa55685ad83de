#!/usr/bin/env bash
# Runs the README's quick-start SQL block verbatim in a fresh database of
# the test cluster, and checks what it promises: the cascade bumped the
# item domain and a notification arrived. Needs PG* variables.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

# The block that follows "CREATE EXTENSION pg_fraiseql_cache;" in README.md.
sql=$(awk '/^```sql$/ {inblock=1; buf=""; next}
           /^```$/ && inblock {if (buf ~ /^CREATE EXTENSION pg_fraiseql_cache;/) {print buf; exit} inblock=0; next}
           inblock {buf = buf $0 "\n"}' README.md)
if [ -z "$sql" ]; then
  echo "quick start: no SQL block found in README.md" >&2
  exit 1
fi

# The worker serves one database: run in it, as on a fresh install (the
# block starts with CREATE EXTENSION), after removing what was there.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
DROP EXTENSION IF EXISTS pg_fraiseql_cache CASCADE;
DROP TABLE IF EXISTS public.tv_contract, public.tv_item;
SQL
out=$(printf '%s\nSELECT pg_sleep(0.3);\nSELECT 1 AS done;\n' "$sql" | psql -X -v ON_ERROR_STOP=1 2>&1)
echo "$out" | tail -5
grep -q 'Asynchronous notification "cache_invalidation" with payload "{"tenant_id": "6f1c2e4a-0000-4000-8000-000000000001", "domain": "contract", "version": ' <<<"$out"
item=$(psql -X -At -c "SELECT fraiseql_cache.current_version('6f1c2e4a-0000-4000-8000-000000000001', 'item')")
[ "$item" -ge 1 ] || { echo "quick start: cascade did not bump item ($item)" >&2; exit 1; }
psql -X -q -c "DROP TABLE public.tv_contract, public.tv_item; DELETE FROM fraiseql_cache.cascade_rules WHERE source_domain = 'contract'"
echo "quick start: README SQL ran verbatim; notification received; cascade bumped item"
