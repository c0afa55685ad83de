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
#   PG_SID_SUITE   Debian suite to fetch it from (default sid; e.g. trixie
#                  has postgresql-17)
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
SUITE=${PG_SID_SUITE:-sid}
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
    -o APT::Sandbox::User=root "$@"
}

mkdir -p "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial" "$WORK/src"
MIRROR=$(debian_mirror)
echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE main" >"$APTDIR/sources.list"
echo "build_pg_from_sid: apt source list: $(cat "$APTDIR/sources.list")"
need_packages

if ! apt_private apt-get update >"$WORK/apt-update.log" 2>&1; then
  tail -n 20 "$WORK/apt-update.log" >&2
  echo "build_pg_from_sid: apt-get update for $SUITE failed (log: $WORK/apt-update.log)" >&2
  exit 1
fi
VERSION=$(apt_private apt-cache showsrc "$PKG" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1 || true)
if [ -z "$VERSION" ]; then
  echo "build_pg_from_sid: Debian $SUITE has no source package $PKG (any more); set PG_SID_MAJOR to one it has, or PG_SID_SUITE" >&2
  exit 1
fi
echo "build_pg_from_sid: $SUITE has $PKG $VERSION"

# Debian's per-version-dirs patch puts the server's libraries into
# /usr/lib/postgresql/NN/lib unless libdir names "postgres": keep them
# under PREFIX.
CONFIGURE=(--prefix="$PREFIX" --libdir="$PREFIX/lib/postgresql" --without-llvm
           --with-icu --with-readline --with-zlib --with-extra-version=" (Debian $SUITE source $VERSION)")
STAMP=$PREFIX/.debian-source-version
BUILD_ID="$PKG $VERSION ${CONFIGURE[*]} +contrib"

# pgTAP for that server (the pgtap suite), from the suite's pgtap source package.
build_pgtap() {
  local pv dir tree orig
  pv=$(apt_private apt-cache showsrc pgtap 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1 || true)
  if [ -z "$pv" ]; then echo "build_pg_from_sid: note: $SUITE has no pgtap source; the pgtap suite cannot run"; return 0; fi
  [ "$(cat "$PREFIX/.pgtap-version" 2>/dev/null)" = "$pv" ] && return 0
  dir=$WORK/src/pgtap-$pv
  if [ ! -f "$dir/.extracted" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    # Only the upstream tarball is needed: unpack it, whether or not the
    # Debian part of the source package could be fetched.
    (cd "$dir" && apt_private apt-get source --download-only "pgtap=$pv") >"$WORK/pgtap.log" 2>&1 || true
    orig=$(ls "$dir"/pgtap_*.orig.tar.* 2>/dev/null | head -n1)
    if [ -n "$orig" ] && tar -xf "$orig" -C "$dir"; then touch "$dir/.extracted"; fi
  fi
  tree=$(find "$dir" -mindepth 1 -maxdepth 1 -type d -name 'pgtap-*' | head -n1)
  if [ -n "$tree" ] && { make -C "$tree" PG_CONFIG="$PREFIX/bin/pg_config" && make -C "$tree" install PG_CONFIG="$PREFIX/bin/pg_config"; } >>"$WORK/pgtap.log" 2>&1; then
    echo "$pv" >"$PREFIX/.pgtap-version"
    echo "build_pg_from_sid: installed pgtap $pv"
  else
    echo "build_pg_from_sid: note: building pgtap $pv failed (log: $WORK/pgtap.log); the pgtap suite cannot run"
  fi
}

if [ -x "$PREFIX/bin/pg_config" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$BUILD_ID" ]; then
  echo "build_pg_from_sid: $PKG $VERSION already installed in $PREFIX"
  build_pgtap
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
  # A previous configure with other options: start afresh.
  if [ "$(cat .fc-configure 2>/dev/null)" != "${CONFIGURE[*]}" ]; then
    [ -f GNUmakefile ] && make -s distclean >/dev/null 2>&1
    ./configure "${CONFIGURE[@]}"
    echo "${CONFIGURE[*]}" >.fc-configure
  fi
  make -j"$JOBS" -s
  make -C contrib -j"$JOBS" -s   # file_fdw and the others, as postgresql-NN ships them
  # Only a previous install of ours is replaced.
  if [ -f "$STAMP" ]; then rm -rf "$PREFIX"; fi
  make -s install
  make -C contrib -s install
) >"$WORK/build.log" 2>&1 || {
  tail -n 30 "$WORK/build.log" >&2
  echo "build_pg_from_sid: build failed (log: $WORK/build.log)" >&2
  exit 1
}
case "$("$PREFIX/bin/pg_config" --pkglibdir)" in
  "$PREFIX"/*) ;;
  *) echo "build_pg_from_sid: the server's libraries went outside $PREFIX" >&2; exit 1;;
esac
echo "$BUILD_ID" >"$STAMP"
echo "build_pg_from_sid: installed $("$PREFIX/bin/pg_config" --version) in $PREFIX"
build_pgtap
echo "$PREFIX/bin/pg_config"
