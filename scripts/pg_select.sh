# Sourced by scripts/test.sh and scripts/cluster.sh (bash): picks the
# PostgreSQL server to build, install and test against.
#
#   PG_CONFIG=/path/to/pg_config   that server
#   PG_VERSION=NN                  the pg_config of major version NN, from
#                                  /usr/lib/postgresql/NN/bin first, then the
#                                  other usual places (see fc_find_pg_config)
#   neither                        `pg_config` from PATH, as before
#
# Sets and exports:
#   FC_PG_CONFIG  absolute path of the chosen pg_config (also PG_CONFIG)
#   FC_PG_BINDIR  its bindir, put first in PATH (initdb, pg_ctl, psql, pg_dump)
#   FC_PG_MAJOR   its major version number
#   FC_BUILD_DIR  where the extension is built: the source tree itself for the
#                 default server, else build/pg<NN> (a copy of the working
#                 tree), so that object files of different servers never mix
# Defines fc_make (make in FC_BUILD_DIR for that server) and fc_build_install.

FC_ROOT=${FC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

# The usual places of a major version's pg_config, most Debian-like first.
fc_find_pg_config() {
  local v=$1 c
  for c in /usr/lib/postgresql/"$v"/bin/pg_config \
           /opt/pg_fraiseql_cache/pg"$v"/bin/pg_config \
           /usr/pgsql-"$v"/bin/pg_config \
           /usr/local/pgsql-"$v"/bin/pg_config \
           /usr/local/pgsql/"$v"/bin/pg_config \
           /opt/postgresql/"$v"/bin/pg_config \
           /opt/postgresql-"$v"/bin/pg_config \
           /usr/local/opt/postgresql@"$v"/bin/pg_config; do
    if [ -x "$c" ] && [ "$(fc_pg_major "$c")" = "$v" ]; then echo "$c"; return 0; fi
  done
  c=$(command -v pg_config 2>/dev/null) || return 1
  [ "$(fc_pg_major "$c")" = "$v" ] && echo "$c"
}

# "PostgreSQL 18.1 (Debian ...)" -> 18; "PostgreSQL 9.6.24" -> 9
fc_pg_major() {
  "$1" --version 2>/dev/null | sed -n -E 's/^PostgreSQL ([0-9]+).*/\1/p'
}

fc_select_pg() {
  local chosen default
  default=$(command -v pg_config 2>/dev/null || true)
  if [ -n "${PG_VERSION:-}" ]; then
    case "$PG_VERSION" in *[!0-9]*) echo "pg_select: PG_VERSION must be a major version number such as 15, got '$PG_VERSION'" >&2; return 2;; esac
    chosen=$(fc_find_pg_config "$PG_VERSION") || chosen=
    if [ -z "$chosen" ]; then
      echo "pg_select: no pg_config of PostgreSQL $PG_VERSION found (looked in /usr/lib/postgresql/$PG_VERSION/bin, /opt/pg_fraiseql_cache/pg$PG_VERSION/bin, /usr/pgsql-$PG_VERSION/bin, /usr/local/pgsql-$PG_VERSION/bin, /opt/postgresql/$PG_VERSION/bin and PATH); set PG_CONFIG" >&2
      return 1
    fi
    if [ -n "${PG_CONFIG:-}" ] && [ "$PG_CONFIG" != pg_config ] && [ "$(readlink -f "$PG_CONFIG")" != "$(readlink -f "$chosen")" ]; then
      echo "pg_select: PG_CONFIG=$PG_CONFIG and PG_VERSION=$PG_VERSION disagree (PG_VERSION finds $chosen); set one" >&2
      return 2
    fi
  elif [ -n "${PG_CONFIG:-}" ] && [ "$PG_CONFIG" != pg_config ]; then
    chosen=$(command -v "$PG_CONFIG" 2>/dev/null || true)
    if [ -z "$chosen" ] || [ ! -x "$chosen" ]; then
      echo "pg_select: PG_CONFIG=$PG_CONFIG is not an executable pg_config" >&2
      return 1
    fi
  else
    chosen=$default
    if [ -z "$chosen" ]; then
      echo "pg_select: no pg_config in PATH; install postgresql-server-dev-NN or set PG_CONFIG / PG_VERSION" >&2
      return 1
    fi
  fi
  chosen=$(readlink -f "$chosen")
  FC_PG_MAJOR=$(fc_pg_major "$chosen")
  FC_PG_BINDIR=$("$chosen" --bindir 2>/dev/null || true)
  if [ -z "$FC_PG_MAJOR" ] || [ ! -x "$FC_PG_BINDIR/pg_ctl" ]; then
    echo "pg_select: $chosen does not belong to a PostgreSQL server install (no pg_ctl in '${FC_PG_BINDIR}')" >&2
    return 1
  fi
  if [ "$FC_PG_MAJOR" -lt 14 ]; then
    echo "pg_select: PostgreSQL $FC_PG_MAJOR is not supported (14 or newer)" >&2
    return 1
  fi
  FC_PG_CONFIG=$chosen
  # The same server as the default pg_config (same bindir): build in place.
  if [ -n "$default" ] && [ "$(readlink -f "$("$default" --bindir 2>/dev/null)")" = "$(readlink -f "$FC_PG_BINDIR")" ]; then
    FC_BUILD_DIR=$FC_ROOT
  else
    FC_BUILD_DIR=$FC_ROOT/build/pg$FC_PG_MAJOR
  fi
  PG_CONFIG=$FC_PG_CONFIG
  PATH=$FC_PG_BINDIR:$PATH
  export FC_PG_CONFIG FC_PG_BINDIR FC_PG_MAJOR FC_BUILD_DIR PG_CONFIG PATH
}

fc_make() { make -C "$FC_BUILD_DIR" PG_CONFIG="$FC_PG_CONFIG" "$@"; }

# Copies the working tree (tracked and untracked, not ignored, without build/)
# into FC_BUILD_DIR, keeping the modification times, so that make rebuilds
# only what changed; files gone from the tree are removed from the copy.
fc_sync_tree() {
  local dest=$FC_BUILD_DIR list old
  mkdir -p "$dest"
  list=$(mktemp)
  if git -C "$FC_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$FC_ROOT" && git ls-files -co --exclude-standard) | grep -v -E '^build/' |
      while IFS= read -r f; do [ -f "$FC_ROOT/$f" ] && printf '%s\n' "$f"; done >"$list"
  else
    (cd "$FC_ROOT" && find . -path ./build -prune -o -type f ! -name '*.o' ! -name '*.d' ! -name '*.so' ! -name '*.bc' -print) |
      sed 's#^\./##' >"$list"
  fi
  old=$dest/.fc-tree-files
  if [ -f "$old" ]; then
    sort "$old" | comm -23 - <(sort "$list") | while IFS= read -r f; do rm -f "$dest/$f" "$dest/${f%.cpp}.o" "$dest/${f%.cpp}.d"; done
  fi
  tar -C "$FC_ROOT" -cf - -T "$list" | tar -C "$dest" -xpf - || { rm -f "$list"; return 1; }
  mv "$list" "$old"
}

# Builds the extension for the chosen server and installs it there.
fc_build_install() {
  if [ "$FC_BUILD_DIR" != "$FC_ROOT" ]; then
    fc_sync_tree || { echo "pg_select: copying the tree to $FC_BUILD_DIR failed" >&2; return 1; }
    # Another server of the same major built here last: start afresh.
    if [ "$(cat "$FC_BUILD_DIR/.fc-pg-config" 2>/dev/null)" != "$FC_PG_CONFIG" ]; then
      fc_make -s clean >/dev/null 2>&1 || true
      echo "$FC_PG_CONFIG" >"$FC_BUILD_DIR/.fc-pg-config"
    fi
  fi
  fc_make -s -j"${FC_JOBS:-2}" && fc_make -s install
}

fc_select_pg || { [ "${BASH_SOURCE[0]}" != "$0" ] && return 1; exit 1; }
