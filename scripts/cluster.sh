#!/usr/bin/env bash
# A throwaway PostgreSQL cluster with pg_fraiseql_cache preloaded.
#
#   scripts/cluster.sh start     initdb (fresh), start, create the database
#   scripts/cluster.sh stop      stop (fast) and keep the files
#   scripts/cluster.sh destroy   stop and remove the files
#   scripts/cluster.sh restart [MODE]  stop with MODE (fast|immediate), start
#   scripts/cluster.sh env       print the PG* variables for clients
#
# PostgreSQL refuses to run as root: as root, the server runs as `postgres`
# in a directory that user owns.
set -euo pipefail

DIR=${FRAISEQL_CLUSTER_DIR:-/tmp/pg_fraiseql_cache_cluster}
PORT=${FRAISEQL_PORT:-55432}
DB=${FRAISEQL_DB:-fraiseql_test}
# The server: PG_CONFIG=... or PG_VERSION=NN (default: pg_config in PATH).
source "$(dirname "$0")/pg_select.sh"
BINDIR=$FC_PG_BINDIR
EXTRA_CONF=${FRAISEQL_EXTRA_CONF:-}
# fraiseql_cache.database: the test database by default; FRAISEQL_SERVED_DATABASE=''
# serves every database where the extension is created.
SERVED=${FRAISEQL_SERVED_DATABASE-$DB}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pgctl() { as_owner "$BINDIR/pg_ctl" -D "$DIR/data" "$@"; }

start_server() {
  pgctl -l "$DIR/server.log" -w -t 60 start >/dev/null
}

case "${1:-}" in
  start)
    if [ -f "$DIR/data/postmaster.pid" ]; then pgctl -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DIR"; fi
    as_owner "$BINDIR/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$DIR/data/postgresql.conf" <<CONF
# pg_fraiseql_cache test cluster
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
shared_preload_libraries = 'pg_fraiseql_cache'
fraiseql_cache.database = '$SERVED'
max_prepared_transactions = 4
max_connections = 60
log_line_prefix = '%m [%p] %b '
$EXTRA_CONF
CONF
    start_server
    as_owner "$BINDIR/createdb" -h "$DIR" -p "$PORT" -U postgres "$DB"
    echo "cluster: started on port $PORT (socket $DIR), database $DB"
    ;;
  stop)
    if [ -f "$DIR/data/postmaster.pid" ]; then pgctl -m fast -w stop >/dev/null; fi
    echo "cluster: stopped"
    ;;
  destroy)
    if [ -f "$DIR/data/postmaster.pid" ]; then pgctl -m fast -w stop >/dev/null 2>&1 || pgctl -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$DIR"
    ;;
  restart)
    pgctl -m "${2:-fast}" -w stop >/dev/null
    start_server
    ;;
  env)
    echo "export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres PGDATABASE=$DB FRAISEQL_CLUSTER_DIR=$DIR"
    ;;
  *)
    echo "usage: $0 start|stop|destroy|restart [fast|immediate]|env" >&2
    exit 2
    ;;
esac
