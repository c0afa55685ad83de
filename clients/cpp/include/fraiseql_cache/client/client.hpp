// Everything of the pg_fraiseql_cache client library.
#pragma once

#include "fraiseql_cache/client/backoff.hpp"
#include "fraiseql_cache/client/cache_counters.hpp"
#include "fraiseql_cache/client/cache_store.hpp"
#include "fraiseql_cache/client/entry_codec.hpp"
#include "fraiseql_cache/client/lru_store.hpp"
#include "fraiseql_cache/client/notification.hpp"
#include "fraiseql_cache/client/redis_store.hpp"
#include "fraiseql_cache/client/sql_version_reader.hpp"
#include "fraiseql_cache/client/types.hpp"
#include "fraiseql_cache/client/value_codec.hpp"
#include "fraiseql_cache/client/version_map.hpp"
#include "fraiseql_cache/client/version_source.hpp"
#include "fraiseql_cache/client/version_watcher.hpp"
#include "fraiseql_cache/client/versioned_cache.hpp"
#include "fraiseql_cache/client/watcher_counters.hpp"
#include "fraiseql_cache/client/watcher_options.hpp"
