// Connecting a background worker to the served database.
#pragma once

#include <cstdint>

#include "pg_fraiseql_cache/pg.hpp"

namespace fraiseql_cache {

// Connects to the database. It may be gone (dropped WITH (FORCE)):
// connecting then fails with FATAL and the launcher starts the worker
// again, so each start after `*failures` failed ones first waits 1 s
// doubling to 60 s (one log line per attempt, not one a second). Returns
// false when shutdown was requested meanwhile.
bool connect_with_backoff(Oid database, uint32_t *failures);

// Whether the connected database is to be served: fraiseql_cache.database
// allows its name and pg_fraiseql_cache is installed (runs a transaction of
// its own).
enum class ServedHere { kYes, kNoExtension, kNotAllowed };
ServedHere served_here();

}  // namespace fraiseql_cache
