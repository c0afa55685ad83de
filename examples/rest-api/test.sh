#!/usr/bin/env bash
# Builds contracts_api against the client library's build tree, starts two
# instances sharing one Redis, and checks: hits, an update from another
# connection turning the next read into a miss with fresh data, an entry
# shared between instances, and read-your-writes through the API.
#
# Needs: PGHOST/PGPORT/PGUSER/PGDATABASE (the served database),
# FRAISEQL_REDIS_HOST/FRAISEQL_REDIS_PORT (a running redis-server) and
# FRAISEQL_CLIENT_BUILD_DIR (a meson build of this repository), as
# scripts/test_clients.sh sets them.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
: "${FRAISEQL_CLIENT_BUILD_DIR:?set FRAISEQL_CLIENT_BUILD_DIR to a meson build of the repository}"
: "${FRAISEQL_REDIS_PORT:?set FRAISEQL_REDIS_PORT to a running redis-server}"

tmp=$(mktemp -d /tmp/fraiseql_rest_api.XXXXXX)
pids=()
table=tv_restex_contract
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  psql -X -q -c "DROP TABLE IF EXISTS $table" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAILED: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f"; tail -20 "$f"; done >&2; exit 1; }
ok() { echo "ok: $*"; }

# ---- build against the uninstalled library (its pkg-config file) ------------
PKG_CONFIG_PATH="$FRAISEQL_CLIENT_BUILD_DIR/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
  meson setup "$tmp/build" "$HERE" >"$tmp/meson.log" 2>&1 || fail "meson setup"
ninja -C "$tmp/build" >"$tmp/ninja.log" 2>&1 || fail "build"
ok "built against pkg-config fraiseql_cache_client"

# ---- data --------------------------------------------------------------------
ta=aaaaaaaa-1111-4111-8111-$(printf '%012d' $$)
tb=bbbbbbbb-2222-4222-8222-$(printf '%012d' $$)
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
DROP TABLE IF EXISTS $table;
CREATE TABLE $table (id bigint PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL, amount numeric NOT NULL);
SELECT fraiseql_cache.setup_table_invalidation('$table');
INSERT INTO $table VALUES (1, '$ta', 'alpha', 100), (2, '$ta', 'beta', 200), (3, '$tb', 'gamma', 300);
SQL

# ---- two instances -------------------------------------------------------------
# start NAME: runs an instance in the background; sets $url.
start() {
  local name=$1
  REDIS_HOST=${FRAISEQL_REDIS_HOST:-127.0.0.1} REDIS_PORT=$FRAISEQL_REDIS_PORT CONTRACTS_TABLE=$table \
    PORT=0 INSTANCE=$name "$tmp/build/contracts_api" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "listening on" "$tmp/$name.log" && break
    sleep 0.1
  done
  url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/$name.log")
}
start api1; api1=$url
start api2; api2=$url
[ -n "$api1" ] && [ -n "$api2" ] || fail "the services did not start"
ok "two instances: $api1 and $api2"

# get URL -> sets $cache (hit|miss) and $body
get() {
  curl -sS -D "$tmp/headers" -o "$tmp/body" "$1" || fail "GET $1"
  cache=$(sed -n 's/^X-Cache: \([a-z]*\).*/\1/Ip' "$tmp/headers" | tr -d '\r')
  body=$(cat "$tmp/body")
}

get "$api1/tenants/$ta/contracts"
[ "$cache" = miss ] || fail "first read should be a miss, was $cache"
echo "$body" | grep -q '"alpha"' || fail "unexpected body: $body"
ok "api1 first read: miss"
for i in 1 2 3; do
  get "$api1/tenants/$ta/contracts"
  [ "$cache" = hit ] || fail "repeated read $i should be a hit, was $cache"
done
ok "api1 next reads: hits"
get "$api2/tenants/$ta/contracts"
[ "$cache" = hit ] || fail "api2 should reuse api1's entry from Redis, was $cache"
ok "api2 first read: a hit on the entry api1 stored in Redis"
get "$api1/tenants/$tb/contracts"
[ "$cache" = miss ] && echo "$body" | grep -q '"gamma"' || fail "tenant B: $cache $body"
get "$api1/tenants/$tb/contracts"
[ "$cache" = hit ] || fail "tenant B second read: $cache"

# ---- an update from another connection ---------------------------------------
psql -X -q -v ON_ERROR_STOP=1 -c "UPDATE $table SET name = 'alpha v2' WHERE id = 1" >/dev/null
# COMMIT has returned. The instances learn the new version by NOTIFY (a
# fraction of a millisecond to a few ms): until then a read may still hit the
# old entry; the first read that shows the new data must be a miss, and no
# read after it may show the old data.
seen_new=0
for i in $(seq 200); do
  get "$api1/tenants/$ta/contracts"
  if echo "$body" | grep -q '"alpha v2"'; then
    [ "$seen_new" = 1 ] || [ "$cache" = miss ] || fail "new data first served as a $cache"
    seen_new=1
    break
  fi
  [ "$cache" = hit ] || fail "a miss computed old data: $body"
  sleep 0.02
done
[ "$seen_new" = 1 ] || fail "the update never showed on api1"
ok "after the update: api1 missed and served fresh data"
get "$api1/tenants/$ta/contracts"
[ "$cache" = hit ] && echo "$body" | grep -q '"alpha v2"' || fail "then a hit with the new data: $cache $body"
ok "then a hit with the new data"
get "$api2/tenants/$ta/contracts"
echo "$body" | grep -q '"alpha v2"' || {
  # api2 may not have applied the notification yet: bounded wait.
  for i in $(seq 100); do sleep 0.02; get "$api2/tenants/$ta/contracts"; echo "$body" | grep -q '"alpha v2"' && break; done
}
echo "$body" | grep -q '"alpha v2"' || fail "api2 never served the new data"
ok "api2 serves the new data too ($cache)"
get "$api1/tenants/$tb/contracts"
[ "$cache" = hit ] || fail "tenant B's entry should survive tenant A's write, was $cache"
ok "tenant B's entry survived"

# ---- read-your-writes through the API --------------------------------------------
for i in 1 2 3 4 5; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --data "beta r$i" "$api1/tenants/$ta/contracts/2")
  [ "$code" = 204 ] || fail "PUT answered $code"
  get "$api1/tenants/$ta/contracts"
  echo "$body" | grep -q "\"beta r$i\"" || fail "own write not visible at once: $cache $body"
  [ "$cache" = miss ] || fail "own write: expected a miss, was $cache"
done
ok "PUT then GET on the same instance: fresh every time (refresh())"

code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --data "x" "$api1/tenants/$tb/contracts/1")
[ "$code" = 404 ] || fail "PUT of another tenant's contract answered $code"
curl -sS "$api1/healthz" | grep -q '"watcher_healthy": true' || fail "healthz"
ok "healthz: $(curl -sS "$api1/healthz")"
echo "rest-api: all checks passed"
