# Throwaway primaries and standbys under one directory, driven by a Python
# runner that starts and stops them (tests/standby, tests/replica_client).
# Needs BINDIR. Sourced.

# fc_nodes_begin PREFIX KEEP_VARIABLE LABEL: makes BASE (a fresh directory
# postgres can write) and removes it on exit, after stopping any node a
# killed runner left running, unless the variable named KEEP_VARIABLE is 1.
fc_nodes_begin() {
  FC_NODES_KEEP_VAR=$2
  FC_NODES_LABEL=$3
  BASE=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$BASE"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$BASE"; fi
  trap fc_nodes_cleanup EXIT
}

fc_nodes_cleanup() {
  local pidfile data
  for pidfile in "$BASE"/*/data/postmaster.pid; do
    [ -f "$pidfile" ] || continue
    data=$(dirname "$pidfile")
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- "$BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
    else
      "$BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
    fi
  done
  if [ "${!FC_NODES_KEEP_VAR:-0}" = 1 ]; then
    echo "$FC_NODES_LABEL: files kept in $BASE"
  else
    rm -rf "$BASE"
  fi
}

# fc_nodes_run COMMAND...: runs the runner, passes INT/TERM on to it (so it
# stops its servers before the cleanup looks) and exits with its status; a
# runner that did not reach its closing line counts as one failure.
fc_nodes_run() {
  "$@" &
  local runner=$! rc
  trap 'kill -TERM "'"$runner"'" 2>/dev/null' INT TERM
  while true; do
    wait "$runner"
    rc=$?
    kill -0 "$runner" 2>/dev/null || break
  done
  if [ "$rc" -gt 1 ]; then
    echo "$FC_NODES_LABEL: the runner stopped early (exit $rc)"
    echo "0 passed, 1 failed"
  fi
  exit "$rc"
}
