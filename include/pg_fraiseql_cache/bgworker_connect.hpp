// Connecting a background worker to the served database.
#pragma once

#include <cstdint>

namespace fraiseql_cache {

// Connects to fraiseql_cache.database. The database may be missing (not
// created yet, dropped WITH (FORCE)): connecting then fails with FATAL and
// the postmaster restarts the worker, so each start after `*failures`
// failed ones first waits 1 s doubling to 60 s (one log line per attempt,
// not one a second). Returns false when shutdown was requested meanwhile.
bool connect_with_backoff(uint32_t *failures);

}  // namespace fraiseql_cache
