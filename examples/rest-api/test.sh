#!/usr/bin/env bash
# Builds contracts_api against the client library's build tree, starts two
# instances sharing one Redis, and checks: hits, an update from another
# connection turning the next read into a miss with fresh data, an entry
# shared between instances, read-your-writes through the API, and
# conditional requests (ETag, If-None-Match -> 304 without touching the data).
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

# ---- conditional requests: ETag and If-None-Match ------------------------------
# req URL [curl args...] -> $code, $etag, $cache, $body, $size
req() {
  local u=$1
  shift
  local out
  rm -f "$tmp/body"  # curl writes no file for an empty body
  out=$(curl -sS -D "$tmp/headers" -o "$tmp/body" -w '%{http_code} %{size_download}' "$@" "$u") || fail "request $u"
  code=${out% *}
  size=${out#* }
  etag=$(header ETag)
  cache=$(header X-Cache)
  body=$(cat "$tmp/body" 2>/dev/null || true)
}
header() { sed -n "s/^$1: *//Ip" "$tmp/headers" | tr -d '\r'; }
# counters URL -> "data_queries hits misses refused_stale store_errors not_modified"
counters() {
  local h
  h=$(curl -sS "$1/healthz") || fail "healthz"
  for k in data_queries hits misses refused_stale store_errors not_modified; do
    printf '%s ' "$(echo "$h" | sed -n "s/.*\"$k\": \([0-9]*\).*/\1/p")"
  done
}
# the same counters with not_modified one higher
plus_one_304() { echo "$1" | awk '{ $6 = $6 + 1; print $0 " " }'; }
a_url=$api1/tenants/$ta/contracts
b_url=$api1/tenants/$tb/contracts

req "$a_url"
[ "$code" = 200 ] || fail "GET answered $code"
echo "$etag" | grep -Eq '^"v1-[0-9a-f]{16}"$' || fail "no strong ETag on a cached GET: '$etag'"
[ "$(header Cache-Control)" = "private, no-cache" ] || fail "Cache-Control: $(header Cache-Control)"
etag_a=$etag
body_a=$body
req "$a_url"
[ "$etag" = "$etag_a" ] || fail "the ETag changed without a write: $etag_a then $etag"
ok "GET: 200 with ETag $etag_a (stable across reads)"

# 304: no body, and neither the cache nor the database was read
before=$(counters "$api1")
req "$a_url" -H "If-None-Match: $etag_a"
[ "$code" = 304 ] || fail "If-None-Match with the current ETag answered $code"
[ "$size" = 0 ] || fail "a 304 carried a body of $size bytes"
[ "$etag" = "$etag_a" ] || fail "the 304 should repeat the ETag, sent '$etag'"
[ -z "$cache" ] || fail "a 304 went through the cache (X-Cache: $cache)"
after=$(counters "$api1")
[ "$after" = "$(plus_one_304 "$before")" ] ||
  fail "a 304 touched the data (data_queries hits misses refused_stale store_errors not_modified: $before -> $after)"
ok "If-None-Match: current ETag -> 304, empty body; data queries and cache reads unchanged ($before-> $after)"

req "$api2/tenants/$ta/contracts" -H "If-None-Match: $etag_a"
[ "$code" = 304 ] || fail "the other instance should recognise the ETag, answered $code"
ok "api2 answers 304 to api1's ETag (the tag depends on tenant, domain and version only)"

req "$a_url" -H "If-None-Match: W/$etag_a"
[ "$code" = 304 ] && [ "$size" = 0 ] || fail "weak W/ form of the current tag answered $code"
ok "If-None-Match: W/\"...\" -> 304 (weak comparison)"
req "$a_url" -H 'If-None-Match: *'
[ "$code" = 304 ] && [ "$etag" = "$etag_a" ] || fail "If-None-Match: * answered $code ($etag)"
ok "If-None-Match: * -> 304"
req "$a_url" -H "If-None-Match: \"v1-0000000000000000\", $etag_a , W/\"other\""
[ "$code" = 304 ] || fail "a list containing the current tag answered $code"
req "$a_url" -H 'If-None-Match: "v1-0000000000000000"' -H "If-None-Match: W/$etag_a"
[ "$code" = 304 ] || fail "the current tag in a second If-None-Match field answered $code"
ok "If-None-Match: a list (and repeated fields) containing the tag -> 304"
before=$(counters "$api1")
req "$a_url" -H 'If-None-Match: "v1-0000000000000000", W/"v1-1111111111111111"'
[ "$code" = 200 ] && [ "$etag" = "$etag_a" ] && [ "$body" = "$body_a" ] ||
  fail "a list without the current tag: $code $etag $body"
[ "$before" != "$(counters "$api1")" ] || fail "a 200 left every counter unchanged"
ok "If-None-Match: a list without the tag -> 200 with the body"
req "$a_url" -H 'If-None-Match: v1-unquoted'
[ "$code" = 400 ] && [ -z "$etag" ] || fail "a malformed If-None-Match answered $code ($etag)"
req "$a_url" -H 'If-None-Match: *, "x"'
[ "$code" = 400 ] || fail "'*' in a list answered $code"
ok "malformed If-None-Match -> 400 (no ETag): $body"

# the other tenant: its own tag; tenant A's never matches
req "$b_url"
[ "$code" = 200 ] && [ -n "$etag" ] && [ "$etag" != "$etag_a" ] || fail "tenant B: $code '$etag'"
etag_b=$etag
req "$b_url" -H "If-None-Match: $etag_a"
[ "$code" = 200 ] && echo "$body" | grep -q '"gamma"' || fail "tenant A's ETag on tenant B answered $code"
req "$a_url" -H "If-None-Match: $etag_b"
[ "$code" = 200 ] || fail "tenant B's ETag on tenant A answered $code"
# two tenants never written share a version (the floor): the tenant alone
# tells their tags apart
tc=cccccccc-3333-4333-8333-$(printf '%012d' $$)
td=dddddddd-4444-4444-8444-$(printf '%012d' $$)
req "$api1/tenants/$tc/contracts"
etag_c=$etag
versions_c=$(header X-Cache-Versions)
req "$api1/tenants/$td/contracts" -H "If-None-Match: $etag_c"
[ "$code" = 200 ] && [ "$(header X-Cache-Versions)" = "$versions_c" ] ||
  fail "unwritten tenants: $code, versions $versions_c and $(header X-Cache-Versions)"
[ -n "$etag_c" ] && [ -n "$etag" ] && [ "$etag" != "$etag_c" ] || fail "unwritten tenants share ETag $etag"
ok "another tenant's ETag never matches (A $etag_a, B $etag_b; at equal versions $versions_c: $etag_c, $etag)"

# a write through the API: no ETag on it; the old tag then gets 200 + a new tag
req "$api1/tenants/$ta/contracts/2" -X PUT --data "beta etag"
[ "$code" = 204 ] && [ -z "$etag" ] || fail "PUT: $code, ETag '$etag'"
before=$(counters "$api1")
req "$a_url" -H "If-None-Match: $etag_a"
[ "$code" = 200 ] || fail "after a PUT the old ETag answered $code"
echo "$body" | grep -q '"beta etag"' || fail "after a PUT: stale body $body"
[ -n "$etag" ] && [ "$etag" != "$etag_a" ] || fail "after a PUT: ETag '$etag' (was $etag_a)"
[ "$(echo "$(counters "$api1")" | cut -d' ' -f1)" -gt "$(echo "$before" | cut -d' ' -f1)" ] ||
  fail "after a PUT the 200 ran no data query"
etag_put=$etag
req "$a_url" -H "If-None-Match: $etag_put"
[ "$code" = 304 ] || fail "the new ETag answered $code"
ok "PUT (no ETag) then If-None-Match: old tag -> 200, fresh body, new ETag $etag_put; new tag -> 304"

# a write from SQL: until the notification arrives the old tag may still get
# a 304; the first 200 carries the new data and a new tag, and from then on the
# old tag never matches again.
psql -X -q -v ON_ERROR_STOP=1 -c "UPDATE $table SET amount = 4242 WHERE id = 1" >/dev/null
got_200=0
for i in $(seq 200); do
  req "$a_url" -H "If-None-Match: $etag_put"
  if [ "$code" = 200 ]; then got_200=1; break; fi
  [ "$code" = 304 ] || fail "during the update: $code"
  sleep 0.02
done
[ "$got_200" = 1 ] || fail "the SQL update never changed the ETag"
echo "$body" | grep -q '4242' || fail "the 200 after the SQL update has old data: $body"
[ -n "$etag" ] && [ "$etag" != "$etag_put" ] || fail "the 200 after the SQL update kept ETag $etag"
etag_sql=$etag
for i in 1 2 3; do
  req "$a_url" -H "If-None-Match: $etag_put"
  [ "$code" = 200 ] || fail "the superseded ETag matched again ($code)"
done
req "$a_url" -H "If-None-Match: $etag_sql"
[ "$code" = 304 ] || fail "the ETag after the SQL update answered $code"
req "$b_url" -H "If-None-Match: $etag_b"
[ "$code" = 304 ] || fail "tenant B's tag should survive tenant A's writes, answered $code"
ok "UPDATE from psql -> 200 with the new data and ETag $etag_sql; tenant B still 304"

# non-cacheable responses carry no ETag
req "$api1/healthz"
[ "$code" = 200 ] && [ -z "$etag" ] || fail "healthz carried ETag '$etag'"
req "$api1/tenants/$tb/contracts/1" -X PUT --data "x"
[ "$code" = 404 ] && [ -z "$etag" ] || fail "a 404 PUT: $code, ETag '$etag'"
ok "healthz, PUT and errors carry no ETag"
echo "rest-api: all checks passed"
