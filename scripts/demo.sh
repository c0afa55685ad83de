#!/usr/bin/env bash
# `make demo`: installs what is missing, builds and installs the extension,
# starts a throwaway cluster with the library preloaded, walks through the
# product, and stops the cluster (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."

export FRAISEQL_CLUSTER_DIR=${FRAISEQL_CLUSTER_DIR:-/tmp/pg_fraiseql_cache_demo}
export FRAISEQL_PORT=${FRAISEQL_PORT:-55439}
export FRAISEQL_DB=${FRAISEQL_DB:-demo}
# Every database with the extension is served (step 10 adds a second one).
export FRAISEQL_SERVED_DATABASE=

scripts/deps.sh
make -s -j2 >/dev/null
make -s install >/dev/null
echo "demo: extension built and installed"

trap 'scripts/cluster.sh destroy >/dev/null 2>&1 || true; echo "demo: cluster stopped"' EXIT
scripts/cluster.sh start
eval "$(scripts/cluster.sh env)"

psql -X -q -v ON_ERROR_STOP=1 -f scripts/demo.sql
