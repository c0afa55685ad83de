// Connecting a background worker to the served database (see the header).
#include "pg_fraiseql_cache/bgworker_connect.hpp"

#include "pg_fraiseql_cache/atomics.hpp"
#include "pg_fraiseql_cache/pg.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "utils/wait_event.h"
}

namespace fraiseql_cache {

bool connect_with_backoff(Oid database, uint32_t *failures_counter) {
    uint32_t failures = atomics::load_acquire(failures_counter);
    if (failures > 0) {
        long delay_ms = 1000L << (failures < 6 ? failures : 6);
        TimestampTz until =
            TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay_ms < 60000 ? delay_ms : 60000);
        for (TimestampTz now = GetCurrentTimestamp(); now < until && !ShutdownRequestPending;
             now = GetCurrentTimestamp()) {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                            long((until - now) / 1000) + 1, PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
        }
        if (ShutdownRequestPending)
            return false;
    }
    atomics::store_release(failures_counter, failures + 1);
    // ALTER DATABASE ... ALLOW_CONNECTIONS false (a database owner may do it)
    // must not stop the worker from serving.
    BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);
    atomics::store_release(failures_counter, 0u);
    return true;
}

ServedHere served_here() {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    // Renamed away from fraiseql_cache.database: not served any more.
    char *name = get_database_name(MyDatabaseId);
    ServedHere answer = name == nullptr || !database_allowed(name) ? ServedHere::kNotAllowed
                        : OidIsValid(get_extension_oid("pg_fraiseql_cache", true))
                            ? ServedHere::kYes
                            : ServedHere::kNoExtension;
    CommitTransactionCommand();
    return answer;
}

}  // namespace fraiseql_cache
