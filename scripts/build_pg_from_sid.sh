#!/usr/bin/env bash
# Builds a PostgreSQL server from Debian sid's source package (default
# postgresql-18) and installs it under a private prefix, to build and test
# the extension against a version Debian 12 does not ship.
#
#   scripts/build_pg_from_sid.sh          fetch, build, install (skips when
#                                         the same version is installed)
#
# Environment:
#   PG_SID_MAJOR   major version to fetch (default 18)
#   PG_SID_PREFIX  install prefix (default /opt/pg_fraiseql_cache/pg<MAJOR>)
#   PG_SID_WORK    build directory, outside the repository
#                  (default /var/cache/pg_fraiseql_cache/pg<MAJOR>-src)
#   PG_SID_JOBS    make -j (default: number of CPUs)
#
# apt runs with a private configuration (own sources.list, state and cache
# under PG_SID_WORK): the machine's apt sources and lists stay untouched.
# Prints the installed pg_config path on its last line.
set -euo pipefail

MAJOR=${PG_SID_MAJOR:-18}
PREFIX=${PG_SID_PREFIX:-/opt/pg_fraiseql_cache/pg$MAJOR}
WORK=${PG_SID_WORK:-/var/cache/pg_fraiseql_cache/pg$MAJOR-src}
JOBS=${PG_SID_JOBS:-$(nproc)}
PKG=postgresql-$MAJOR
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

case "$MAJOR" in ''|*[!0-9]*) echo "build_pg_from_sid: PG_SID_MAJOR must be a number, got '$MAJOR'" >&2; exit 2;; esac
REPO=$(cd "$(dirname "$0")/.." && pwd)
case "$WORK/" in "$REPO"/*) echo "build_pg_from_sid: PG_SID_WORK must be outside the repository" >&2; exit 2;; esac

# The Debian mirror this machine already uses (deb822 URIs: or one-line deb).
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(sed -n -E 's#^[[:space:]]*URIs:[[:space:]]*(https?://[^[:space:]]+/debian)/?[[:space:]]*$#\1#p;
                     s#^[[:space:]]*deb(-src)?[[:space:]]+(\[[^]]*\][[:space:]]+)?(https?://[^[:space:]]+/debian)/?[[:space:]].*#\3#p' "$f" | head -n1)
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  echo http://deb.debian.org/debian
}

need_packages() {
  local missing=() p
  for p in build-essential dpkg-dev bison flex libreadline-dev zlib1g-dev libicu-dev pkg-config perl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" != 0 ]; then echo "build_pg_from_sid: install as root: ${missing[*]}" >&2; exit 1; fi
  echo "build_pg_from_sid: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

APTDIR=$WORK/apt
apt_private() {  # apt_private apt-get|apt-cache ARGS...
  local tool=$1
  shift
  "$tool" -q \
    -o Dir::Etc::sourcelist="$APTDIR/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State="$APTDIR/state" -o Dir::Cache="$APTDIR/cache" \
    -o Dir::Etc::preferencesparts=- -o APT::Sandbox::User=root "$@"
}

mkdir -p "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial" "$WORK/src"
MIRROR=$(debian_mirror)
echo "deb-src [signed-by=$KEYRING] $MIRROR sid main" >"$APTDIR/sources.list"
echo "build_pg_from_sid: apt source list: $(cat "$APTDIR/sources.list")"
need_packages

if ! apt_private apt-get update >"$WORK/apt-update.log" 2>&1; then
  tail -n 20 "$WORK/apt-update.log" >&2
  echo "build_pg_from_sid: apt-get update for sid failed (log: $WORK/apt-update.log)" >&2
  exit 1
fi
VERSION=$(apt_private apt-cache showsrc "$PKG" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1 || true)
if [ -z "$VERSION" ]; then
  echo "build_pg_from_sid: Debian sid has no source package $PKG (any more); set PG_SID_MAJOR to one it has" >&2
  exit 1
fi
echo "build_pg_from_sid: sid has $PKG $VERSION"

STAMP=$PREFIX/.debian-source-version
if [ -x "$PREFIX/bin/pg_config" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$PKG $VERSION" ]; then
  echo "build_pg_from_sid: $PKG $VERSION already installed in $PREFIX"
  echo "$PREFIX/bin/pg_config"
  exit 0
fi

SRC=$WORK/src/$VERSION
if [ ! -f "$SRC/.extracted" ]; then
  rm -rf "$SRC" && mkdir -p "$SRC"
  (cd "$SRC" && apt_private apt-get source "$PKG=$VERSION" >"$WORK/apt-source.log" 2>&1) || {
    tail -n 20 "$WORK/apt-source.log" >&2
    echo "build_pg_from_sid: apt-get source $PKG=$VERSION failed" >&2
    exit 1
  }
  touch "$SRC/.extracted"
fi
TREE=$(find "$SRC" -mindepth 1 -maxdepth 1 -type d -name "$PKG-*" | head -n1)
[ -n "$TREE" ] && [ -x "$TREE/configure" ] || { echo "build_pg_from_sid: no source tree with configure in $SRC" >&2; exit 1; }

echo "build_pg_from_sid: building $TREE into $PREFIX (log: $WORK/build.log)"
(
  cd "$TREE"
  [ -f config.status ] || ./configure --prefix="$PREFIX" --without-llvm --with-icu --with-readline --with-zlib
  make -j"$JOBS" -s
  # Only a previous install of ours is replaced.
  if [ -f "$STAMP" ]; then rm -rf "$PREFIX"; fi
  make -s install
) >"$WORK/build.log" 2>&1 || {
  tail -n 30 "$WORK/build.log" >&2
  echo "build_pg_from_sid: build failed (log: $WORK/build.log)" >&2
  exit 1
}
echo "$PKG $VERSION" >"$STAMP"
echo "build_pg_from_sid: installed $("$PREFIX/bin/pg_config" --version) in $PREFIX"
echo "$PREFIX/bin/pg_config"
