#!/usr/bin/env bash
# Builds the Debian packages, as `make package`: one
# postgresql-<NN>-fraiseql-cache per installed server version (debian/pgversions),
# with dpkg-buildpackage in a copy of the tree (build/deb/), then runs the
# pg_regress suite against the packaged files on a throwaway cluster.
#
#   scripts/package_deb.sh            test with the package unpacked
#                                     (dpkg-deb -x) into a private copy of
#                                     the server: nothing is installed
#   scripts/package_deb.sh --install  dpkg -i the packages and test them
#                                     with the system's server
#
# Environment: FC_DEB_PORT (default 55436), FC_DEB_CLUSTER_DIR (default
# /tmp/pg_fraiseql_cache_deb). The .deb files end up in build/deb/.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=unpacked
case "${1:-}" in
  "") ;;
  --install) MODE=installed ;;
  *) echo "usage: $0 [--install]" >&2; exit 2 ;;
esac
PORT=${FC_DEB_PORT:-55436}
CLUSTER=${FC_DEB_CLUSTER_DIR:-/tmp/pg_fraiseql_cache_deb}
OUT=$ROOT/build/deb
SRC=$OUT/src/pg-fraiseql-cache

die() { echo "package: $*" >&2; exit 1; }

# ---- build dependencies (Debian) ------------------------------------------
missing=()
for p in debhelper postgresql-server-dev-all dpkg-dev build-essential; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "run as root or install: ${missing[*]}"
  echo "package: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "installing ${missing[*]} failed"
fi

# ---- a clean copy of the sources --------------------------------------------
rm -rf "$OUT" && mkdir -p "$SRC"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git archive HEAD | tar -x -C "$SRC" || die "git archive failed"
  [ -z "$(git status --porcelain --untracked-files=no)" ] || echo "package: note: built from HEAD; uncommitted changes are not in it"
else
  tar -C "$ROOT" --exclude=./build --exclude='*.o' --exclude='*.d' --exclude='*.so' --exclude='*.bc' -cf - . |
    tar -x -C "$SRC" || die "copying the tree failed"
fi

# ---- dpkg-buildpackage --------------------------------------------------------
versions=$(cd "$SRC" && pg_buildext supported-versions) || die "pg_buildext supported-versions failed"
[ -n "$versions" ] || die "no installed PostgreSQL server-dev matches debian/pgversions ($(cat "$SRC/debian/pgversions"))"
echo "package: building for PostgreSQL $(echo $versions)"
(cd "$SRC" && pg_buildext updatecontrol >/dev/null && dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1 || {
  tail -n 30 "$OUT/build.log"
  die "dpkg-buildpackage failed (log: $OUT/build.log)"
}
if grep -E '^src/.*warning:' "$OUT/build.log"; then die "the build has warnings (log: $OUT/build.log)"; fi
debs=()
for v in $versions; do
  deb=$(ls "$OUT"/src/postgresql-"$v"-fraiseql-cache_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || die "no postgresql-$v-fraiseql-cache package was built"
  mv "$deb" "$OUT/" && debs+=("$OUT/$(basename "$deb")")
done

# ---- test each package ----------------------------------------------------------
failed=0
passed=0
for deb in "${debs[@]}"; do
  v=$(dpkg-deb -f "$deb" Package | sed -E 's/^postgresql-([0-9]+)-.*/\1/')
  echo "package: $(basename "$deb"):"
  contents=$(dpkg-deb -c "$deb") || die "dpkg-deb -c $deb failed"
  for f in "usr/lib/postgresql/$v/lib/pg_fraiseql_cache.so" "usr/share/postgresql/$v/extension/pg_fraiseql_cache.control" \
           "usr/share/postgresql/$v/extension/pg_fraiseql_cache--1.0.sql"; do
    grep -q " \./$f\$" <<<"$contents" || die "$(basename "$deb") lacks /$f"
  done
  if [ "$MODE" = installed ]; then
    dpkg -i "$deb" >/dev/null || die "dpkg -i $deb failed"
    base=
  else
    # A private copy of the server with the package unpacked into it.
    base=$OUT/root
    mkdir -p "$base/usr/lib/postgresql" "$base/usr/share/postgresql"
    cp -a "/usr/lib/postgresql/$v" "$base/usr/lib/postgresql/" && cp -a "/usr/share/postgresql/$v" "$base/usr/share/postgresql/" ||
      die "copying the PostgreSQL $v server failed"
    dpkg-deb -x "$deb" "$base" || die "dpkg-deb -x $deb failed"
  fi
  bindir=$base/usr/lib/postgresql/$v/bin
  pc=$bindir/pg_config
  cmp -s <(dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/lib/postgresql/$v/lib/pg_fraiseql_cache.so") \
         "$("$pc" --pkglibdir)/pg_fraiseql_cache.so" || die "the server's pg_fraiseql_cache.so is not the packaged one"
  env=(PATH="$bindir:$PATH" PG_CONFIG="$pc" PG_VERSION= FRAISEQL_CLUSTER_DIR="$CLUSTER-$v" FRAISEQL_PORT="$PORT" FRAISEQL_DB=fraiseql_test)
  if env "${env[@]}" "$SRC/scripts/cluster.sh" start >/dev/null; then
    if env "${env[@]}" PGHOST="$CLUSTER-$v" PGPORT="$PORT" PGUSER=postgres \
         make -s -C "$SRC" installcheck PG_CONFIG="$pc" PGDATABASE=fraiseql_test; then
      passed=$((passed + 1))
    else
      [ -f "$SRC/build/regress/regression.diffs" ] && head -100 "$SRC/build/regress/regression.diffs"
      failed=$((failed + 1))
    fi
    env "${env[@]}" "$SRC/scripts/cluster.sh" destroy >/dev/null 2>&1
  else
    echo "package: starting a PostgreSQL $v cluster failed"
    failed=$((failed + 1))
  fi
done
[ "$MODE" = unpacked ] && rm -rf "$OUT/root"
echo "package: ${debs[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
