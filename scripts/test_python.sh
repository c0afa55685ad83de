#!/usr/bin/env bash
# Tests of the Python client (clients/python) against a real server and Redis.
#
# Server: when PGHOST, PGPORT and PGDATABASE are set and pg_fraiseql_cache can
# be created there (CREATE EXTENSION IF NOT EXISTS), that server is used (as
# scripts/test.sh exports them for its cluster). Otherwise a throwaway cluster
# is started with scripts/cluster.sh (pg_config from PATH) on a free port in
# 56601-56609 and stopped on exit.
# Redis: always started here on a free loopback port in 56620-56629.
# PgBouncer (if installed): started here in transaction mode on 56630-56639
# for the pooled-listener test. FRAISEQL_PY_REDIS_PORT and
# FRAISEQL_PY_PGBOUNCER_PORT move those ranges (that port and the 9 above).
#
# The package is installed into a throwaway virtualenv (system site packages:
# Debian's python3-psycopg, -psycopg-pool, -redis, -pytest, -pytest-asyncio)
# with `pip install --no-build-isolation --no-index`, and the tests import it
# from there. Exits non-zero on any failure, and when no test ran.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
source "$ROOT/scripts/lib/redis.sh"
PY=${FRAISEQL_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d /tmp/fraiseql_python.XXXXXX)
chmod 755 "$tmp"
redis_pid=
bouncer_pid=
own_cluster=
cleanup() {
  for pid in $bouncer_pid $redis_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  if [ -n "$own_cluster" ]; then
    FRAISEQL_CLUSTER_DIR=$own_cluster "$ROOT/scripts/cluster.sh" destroy >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "python: $*"; }

for tool in redis-server redis-cli psql; do
  command -v "$tool" >/dev/null || { say "$tool not found"; exit 1; }
done
"$PY" -c "import psycopg, psycopg_pool, redis, pytest, pytest_asyncio" 2>"$tmp/imports.log" || {
  cat "$tmp/imports.log"
  say "missing Debian packages: python3-psycopg python3-psycopg-pool python3-redis python3-pytest python3-pytest-asyncio"
  exit 1
}

# ---- server --------------------------------------------------------------------
export PGUSER=${PGUSER:-postgres}
server_usable() {
  psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache" \
    -c "SELECT fraiseql_cache.current_version('00000000-0000-0000-0000-000000000000', 'x')" \
    >"$tmp/probe.log" 2>&1
}
if [ -n "${PGHOST:-}" ] && [ -n "${PGPORT:-}" ] && [ -n "${PGDATABASE:-}" ] && server_usable; then
  say "using the running server (PGHOST=$PGHOST PGPORT=$PGPORT PGDATABASE=$PGDATABASE)"
else
  [ -n "${PGHOST:-}" ] && { say "the server in PG* is not usable:"; sed 's/^/    /' "$tmp/probe.log"; }
  port=
  for p in $(seq 56601 56609); do port_free "$p" && { port=$p; break; }; done
  [ -n "$port" ] || { say "no free port in 56601-56609 for a cluster"; exit 1; }
  own_cluster=/tmp/fraiseql_python_cluster_$port
  if ! FRAISEQL_CLUSTER_DIR=$own_cluster FRAISEQL_PORT=$port FRAISEQL_DB=fraiseql_test \
      scripts/cluster.sh start >"$tmp/cluster.log" 2>&1; then
    cat "$tmp/cluster.log"
    [ -f "$own_cluster/server.log" ] && tail -20 "$own_cluster/server.log"
    say "could not start a cluster"
    exit 1
  fi
  eval "$(FRAISEQL_CLUSTER_DIR=$own_cluster FRAISEQL_PORT=$port FRAISEQL_DB=fraiseql_test scripts/cluster.sh env)"
  export PGHOST PGPORT PGUSER PGDATABASE
  server_usable || { cat "$tmp/probe.log"; say "pg_fraiseql_cache cannot be created (installed for $(command -v pg_config)?)"; exit 1; }
  say "started a cluster on port $port"
fi

# ---- redis ------------------------------------------------------------------------
redis_from=${FRAISEQL_PY_REDIS_PORT:-56620}
start_redis "$redis_from" $((redis_from + 9)) "$tmp"
[ -n "$redis_port" ] || { say "could not start redis-server on $redis_from-$((redis_from + 9))"; exit 1; }
export FRAISEQL_REDIS_URL=redis://127.0.0.1:$redis_port/0
say "redis-server on 127.0.0.1:$redis_port"

# ---- pgbouncer (transaction pooling), for the pooled-listener test ------------------
if command -v pgbouncer >/dev/null; then
  bouncer_from=${FRAISEQL_PY_PGBOUNCER_PORT:-56630}
  for p in $(seq "$bouncer_from" $((bouncer_from + 9))); do
    port_free "$p" || continue
    cat >"$tmp/pgbouncer.ini" <<INI
[databases]
$PGDATABASE = host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $p
unix_socket_dir =
auth_type = trust
auth_file = $tmp/userlist.txt
pool_mode = transaction
max_client_conn = 50
default_pool_size = 2
logfile = $tmp/pgbouncer.log
pidfile = $tmp/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
INI
    echo "\"$PGUSER\" \"\"" >"$tmp/userlist.txt"
    chown postgres "$tmp"/pgbouncer.ini "$tmp"/userlist.txt 2>/dev/null || true
    chmod 777 "$tmp"
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- pgbouncer "$tmp/pgbouncer.ini" >>"$tmp/pgbouncer.out" 2>&1 &
    else
      pgbouncer "$tmp/pgbouncer.ini" >>"$tmp/pgbouncer.out" 2>&1 &
    fi
    bouncer_pid=$!
    ok=
    for _ in $(seq 50); do
      if psql -X -q -h 127.0.0.1 -p "$p" -c "SELECT 1" >/dev/null 2>&1; then ok=1; break; fi
      kill -0 "$bouncer_pid" 2>/dev/null || break
      sleep 0.1
    done
    if [ -n "$ok" ]; then
      export FRAISEQL_PGBOUNCER_PORT=$p
      say "pgbouncer (pool_mode=transaction) on 127.0.0.1:$p"
      break
    fi
    kill "$bouncer_pid" 2>/dev/null; wait "$bouncer_pid" 2>/dev/null; bouncer_pid=
  done
  [ -n "${FRAISEQL_PGBOUNCER_PORT:-}" ] || { tail -5 "$tmp/pgbouncer.log" "$tmp/pgbouncer.out" 2>/dev/null; say "pgbouncer did not start: the PgBouncer test will be skipped"; }
fi

# ---- install the package into a throwaway virtualenv ---------------------------------
"$PY" -m venv --system-site-packages "$tmp/venv" >"$tmp/venv.log" 2>&1 || { cat "$tmp/venv.log"; say "venv failed"; exit 1; }
# From a copy, so that the build leaves nothing in the source tree.
mkdir -p "$tmp/pkg" && cp -r "$ROOT/clients/python/pyproject.toml" "$ROOT/clients/python/README.md" \
  "$ROOT/clients/python/src" "$tmp/pkg/" && rm -rf "$tmp"/pkg/src/*.egg-info
if ! "$tmp/venv/bin/pip" install -q --no-build-isolation --no-index --no-deps \
    "$tmp/pkg" >"$tmp/pip.log" 2>&1; then
  cat "$tmp/pip.log"
  say "pip install ./clients/python failed"
  exit 1
fi
say "installed $("$tmp/venv/bin/python" -c 'import fraiseql_cache, os; print(os.path.dirname(fraiseql_cache.__file__))')"

# ---- tests ------------------------------------------------------------------------------
cd "$tmp"
"$tmp/venv/bin/python" -m pytest -c "$ROOT/clients/python/pyproject.toml" \
  --rootdir "$ROOT/clients/python" -p no:cacheprovider -q -rs -s \
  "$ROOT/clients/python/tests" "$@" 2>&1 | tee "$tmp/pytest.log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '(passed|failed|errors?|skipped|deselected|no tests ran).* in [0-9.]+s' "$tmp/pytest.log" | tail -1 | sed 's/^=* *//; s/ *=*$//')
say "pytest: ${summary:-no summary line}"
case $rc in
  0) say "ok"; exit 0 ;;
  5) say "FAILED: no tests were collected"; exit 1 ;;
  *) say "FAILED (pytest exit code $rc)"; exit 1 ;;
esac
