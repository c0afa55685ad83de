# Sourced by scripts/test_multidb.sh and by every case: a throwaway cluster
# that serves every database with the extension, and helpers to read it.
#
#   MDB_PORT  loopback port of the cluster (default 57301)
#   MDB_DIR   its directory (default /tmp/fc_multidb_$MDB_PORT)
#   MDB_EXTRA_CONF  more postgresql.conf lines for every cluster (log settings, ...)
#
# The server's binaries are those of `pg_config` in PATH (scripts/pg_select.sh).

MDB_PORT=${MDB_PORT:-57301}
MDB_DIR=${MDB_DIR:-/tmp/fc_multidb_$MDB_PORT}
MDB_BINDIR=${FC_PG_BINDIR:-$(pg_config --bindir)}
ALL=00000000-0000-0000-0000-000000000000
# Tenants k = 1..3 of the application table.
tenant() { printf '00000000-0000-0000-0000-0000000000a%d' "$1"; }
NEVER=00000000-0000-0000-0000-0000000000ff  # a tenant no row ever has

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pgctl() { as_owner "$MDB_BINDIR/pg_ctl" -D "$MDB_DIR/data" "$@"; }

# A fresh cluster, started; extra postgresql.conf lines as arguments.
cluster_init() {
  cluster_destroy
  mkdir -p "$MDB_DIR" || return 1
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$MDB_DIR"; fi
  as_owner "$MDB_BINDIR/initdb" -D "$MDB_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null || return 1
  {
    echo "port = $MDB_PORT"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$MDB_DIR'"
    echo "shared_preload_libraries = 'pg_fraiseql_cache'"
    echo "fraiseql_cache.database = ''"
    echo "max_connections = 60"
    echo "log_line_prefix = '%m [%p] %b '"
    local line
    for line in "$@"; do echo "$line"; done
    echo "${MDB_EXTRA_CONF:-}"
  } >>"$MDB_DIR/data/postgresql.conf"
  cluster_start
}
cluster_start() { pgctl -l "$MDB_DIR/server.log" -w -t 60 start >/dev/null; }
cluster_stop() { pgctl -m "${1:-fast}" -w -t 60 stop >/dev/null; }
cluster_conf() { echo "$1" >>"$MDB_DIR/data/postgresql.conf"; }
cluster_destroy() {
  if [ -f "$MDB_DIR/data/postmaster.pid" ]; then
    pgctl -m fast -w -t 30 stop >/dev/null 2>&1 || pgctl -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$MDB_DIR"
}

export PGHOST=$MDB_DIR PGPORT=$MDB_PORT PGUSER=postgres
export PGOPTIONS="-c client_min_messages=warning"
# q DB SQL: one statement list, unaligned, tuples only, stops at the first error.
q() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$*"; }
ver() { q "$1" "SELECT fraiseql_cache.current_version('$2', '$3')"; }
# Every pair of DB as "tenant domain version" lines, sorted.
pairs() { q "$1" "SELECT tenant_id || ' ' || domain || ' ' || version FROM fraiseql_cache.v_domain_versions ORDER BY 1"; }

# The pid of the worker connected to DB ('' when none).
worker_of() {
  q postgres "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE backend_type = 'fraiseql_cache worker' AND datname = '$1'"
}
# Waits up to $2 seconds (default 10) until DB is served: one worker connected
# to DB, and stats().worker_pid in DB is its pid (stats() is called every time,
# so this is also a first use). Prints the milliseconds it took.
wait_served() {
  local db=$1 limit=$(( ${2:-10} * 20 )) t0 w s
  t0=$(date +%s%N)
  for _ in $(seq "$limit"); do
    # stats() first: a use of the database (a copy is served from its first use).
    s=$(q "$db" "SELECT worker_pid FROM fraiseql_cache.stats()" 2>/dev/null)
    w=$(worker_of "$db" 2>/dev/null)
    if [ -n "$w" ] && [[ "$w" != *,* ]] && [ "$s" = "$w" ]; then
      echo $(( ($(date +%s%N) - t0) / 1000000 )); return 0
    fi
    sleep 0.05
  done
  echo "not served after ${2:-10} s (workers connected: '${w:-none}', stats().worker_pid: '${s:-NULL or an error}')"
  return 1
}
# Waits up to $2 seconds (default 5) until no worker is connected to DB.
wait_no_worker() {
  for _ in $(seq $(( ${2:-5} * 20 ))); do
    [ -z "$(worker_of "$1" 2>/dev/null)" ] && return 0
    sleep 0.05
  done
  return 1
}

# An application database DB: the extension, tv_item (30 rows, tenant k = id % 3 + 1,
# 10 rows each) and tv_other tracked, txlog (untracked: one row per writer transaction).
make_app() {
  local db=$1
  q postgres "CREATE DATABASE $db" || return 1
  q "$db" "CREATE EXTENSION pg_fraiseql_cache" || return 1
  q "$db" "CREATE TABLE tv_item (id int PRIMARY KEY, tenant_id uuid NOT NULL, k int NOT NULL, n int NOT NULL DEFAULT 0);
           CREATE TABLE tv_other (id int PRIMARY KEY, tenant_id uuid);
           CREATE TABLE txlog (id bigserial PRIMARY KEY, k int);
           INSERT INTO tv_item SELECT g, ('00000000-0000-0000-0000-0000000000a' || (g % 3 + 1))::uuid, g % 3 + 1 FROM generate_series(1, 30) g;
           INSERT INTO tv_other VALUES (1, '$(tenant 1)');" || return 1
  q "$db" "SELECT fraiseql_cache.setup_table_invalidation('tv_item'); SELECT fraiseql_cache.setup_table_invalidation('tv_other')" >/dev/null || return 1
}
# n of tenant k's rows (all rows of a tenant are updated together).
n_of() { q "$1" "SELECT min(n) FROM tv_item WHERE k = $2"; }
txcount() { q "$1" "SELECT count(*) FROM txlog"; }

# A pgbench script: one transaction updating every row of a random tenant and
# logging itself in txlog (so the data counts the committed transactions).
writer_script() {
  local f=$MDB_DIR/writer.sql
  cat >"$f" <<'SQL'
\set k random(1, 3)
BEGIN;
UPDATE tv_item SET n = n + 1 WHERE k = :k;
INSERT INTO txlog (k) VALUES (:k);
COMMIT;
SQL
  echo "$f"
}
# pgbench on the cluster (PG* are exported); started in the background, call
# "$MDB_BINDIR/pgbench" itself so that $! is its pid.
bench() { "$MDB_BINDIR/pgbench" "$@"; }

# Exactness of DB since a snapshot taken by counts_snapshot: for each tenant,
# version delta = committed transactions that changed it (n delta); for the
# all-tenants pair, the number of committed transactions (txlog rows).
counts_snapshot() {  # DB -> "v1 n1 v2 n2 v3 n3 vall tx"
  local db=$1 k out=""
  for k in 1 2 3; do out+="$(ver "$db" "$(tenant $k)" item) $(n_of "$db" $k) "; done
  echo "$out$(ver "$db" $ALL item) $(txcount "$db")"
}
# DB, snapshot before; prints the comparison, returns 1 if any pair is off.
counts_check() {
  local db=$1 before=($2) after bad=0 k i dv dn msg=""
  after=($(counts_snapshot "$db"))
  [ ${#after[@]} -eq 8 ] && [ ${#before[@]} -eq 8 ] || { echo "$db: could not read versions"; return 1; }
  for k in 1 2 3; do
    i=$(( (k - 1) * 2 ))
    dv=$(( after[i] - before[i] )); dn=$(( after[i + 1] - before[i + 1] ))
    msg+="tenant $k +$dv/$dn commits, "
    [ "$dv" -eq "$dn" ] || bad=1
  done
  dv=$(( after[6] - before[6] )); dn=$(( after[7] - before[7] ))
  msg+="all-tenants +$dv/$dn commits"
  [ "$dv" -eq "$dn" ] && [ "$dn" -gt 0 ] || bad=1
  echo "$db: $msg"
  return $bad
}
# One writer transaction in DB for tenant K (the same as writer_script's).
commit_one() {
  q "$1" "BEGIN; UPDATE tv_item SET n = n + 1 WHERE k = $2; INSERT INTO txlog (k) VALUES ($2); COMMIT"
}
# DB, tenant K: one commit bumps (tenant K, item) by exactly one. Prints "from -> to".
bumps_once() {
  local before after
  before=$(ver "$1" "$(tenant "$2")" item) || return 1
  commit_one "$1" "$2" || return 1
  after=$(ver "$1" "$(tenant "$2")" item) || return 1
  echo "$before -> $after"
  [ "$after" -eq $((before + 1)) ]
}

# Checks: `expect RC description` records a failed check when RC is not 0;
# `die description` ends a case that cannot go on (a FAIL); `finish` ends it.
MDB_BAD=0
expect() {
  local rc=$1; shift
  if [ "$rc" -eq 0 ]; then echo "ok      $*"; else echo "NOT OK  $*"; MDB_BAD=1; fi
}
die() { echo "CANNOT RUN: $*"; exit 1; }
finish() { exit "$MDB_BAD"; }
