#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the demo need,
# skipping those already present. Needs root when something is missing.
set -euo pipefail

packages=(
  build-essential postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
  libtap-parser-sourcehandler-pgtap-perl libpqxx-dev libgtest-dev libbenchmark-dev
  meson ninja-build pkg-config python3-psycopg python3-psycopg-pool python3-pytest
  python3-pytest-asyncio python3-redis pgbouncer
  libhiredis-dev redis-server libcpp-httplib-dev curl
)
# Node.js may come from elsewhere than Debian (its npm then comes with it,
# and Debian's npm package would conflict): only install it when missing.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "deps: run as root (or install these packages): ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# postgresql-common creates a default cluster on install; it is not ours.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q '^15 main .* online'; then
  pg_ctlcluster 15 main stop || true
fi
echo "deps: done"
