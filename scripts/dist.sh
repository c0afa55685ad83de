#!/usr/bin/env bash
# Packs a release for PGXN, as `make dist`: build/dist/pg_fraiseql_cache-<version>.zip
# from a commit (default HEAD) with `git archive`, META.json and the sources
# under pg_fraiseql_cache-<version>/. Uncommitted changes are not packed.
#
#   scripts/dist.sh [REF]
set -euo pipefail

cd "$(dirname "$0")/.."
REF=${1:-HEAD}
git rev-parse --verify -q "$REF^{commit}" >/dev/null || { echo "dist: $REF is not a commit" >&2; exit 2; }
git cat-file -e "$REF:META.json" 2>/dev/null || { echo "dist: $REF has no META.json" >&2; exit 1; }

meta=$(git show "$REF:META.json")
name=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
version=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
control=$(git show "$REF:$name.control" | sed -n -E "s/^default_version *= *'([^']+)'.*/\1/p")
case "$version" in
  "$control"|"$control".*) ;;
  *) echo "dist: META.json version $version does not match $name.control default_version $control" >&2; exit 1;;
esac

out=build/dist/$name-$version.zip
mkdir -p build/dist
rm -f "$out"
git archive --format=zip --prefix="$name-$version/" -o "$out" "$REF"

# What a PGXN client needs to build it.
python3 - "$out" "$name-$version" "$name" <<'PY'
import sys, zipfile
out, top, name = sys.argv[1:]
names = set(zipfile.ZipFile(out).namelist())
need = ["META.json", "Makefile", name + ".control", "sql/" + name + "--1.0.sql", "LICENSE", "README.md"]
missing = [n for n in need if top + "/" + n not in names]
if not any(n.startswith(top + "/src/") and n.endswith(".cpp") for n in names):
    missing.append("src/*.cpp")
if missing:
    sys.exit("dist: missing from the archive: " + ", ".join(missing))
PY
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "dist: note: uncommitted changes are not in the archive"
echo "dist: $out ($(git rev-parse --short "$REF"), $(du -k "$out" | cut -f1) KiB)"
