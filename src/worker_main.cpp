// The worker's entry point: connects to its database, claims its slot,
// overrides the settings it must not inherit, and runs the Worker.
#include "pg_fraiseql_cache/bgworker_connect.hpp"
#include "pg_fraiseql_cache/worker.hpp"

extern "C" {
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"
}

namespace fraiseql_cache {
namespace {

// Whether the extension is installed here. A slot claimed for the database
// means a session has it, or is creating it: CREATE EXTENSION claims the
// slot before it commits, so wait (10 s at most) for that commit.
bool extension_installed(bool claimed) {
    for (int waited = 0;; waited += 100) {
        ServedHere served = served_here();
        if (served == ServedHere::kYes)
            return true;
        if (served == ServedHere::kNotAllowed || !claimed || waited >= 10000 ||
            ShutdownRequestPending)
            return false;
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100L,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}

}  // namespace
}  // namespace fraiseql_cache

using namespace fraiseql_cache;

extern "C" {

PGDLLEXPORT void fraiseql_cache_worker_main(Datum arg) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    const Oid database = DatumGetObjectId(arg);
    int slot = find_slot(database);
    static uint32_t no_slot_failures = 0;
    if (!connect_with_backoff(database, slot >= 0 ? &slot_view(slot).state->connect_failures
                                                  : &no_slot_failures))
        proc_exit(0);
    // Started for every database at server start: most have no extension.
    // A database whose extension was dropped waits, dormant, until a
    // session asks for it (CREATE EXTENSION).
    if (!extension_installed(slot >= 0)) {
        if (slot >= 0)
            atomics::store_release(&slot_view(slot).state->dormant, 1u);
        proc_exit(0);
    }
    slot = claim_slot(database);
    if (slot < 0) {
        ereport(WARNING,
                (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                 errmsg("pg_fraiseql_cache: the database with OID %u is not served: all %d "
                        "slots are taken",
                        database, max_databases()),
                 errhint("Raise fraiseql_cache.max_databases and restart the server.")));
        proc_exit(0);
    }
    bind_slot(slot);
    // One worker per database: a second one started in a race leaves.
    int32_t none = 0;
    if (!atomics::compare_exchange(&shared.state->worker_pid, &none, int32_t(MyProcPid)))
        proc_exit(0);
    // Durability is handled by flushing explicitly (see the file comment),
    // so a batch's commit does not wait for its own fsync.
    SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
    // Settings a database or role owner can put on the worker's database
    // (ALTER DATABASE / ALTER ROLE ... SET) that would stop it from writing
    // or make it wait: the worker's own values override them. The worker's
    // SQL resolves nothing through a user-controlled path.
    static const char *const kOwnSettings[][2] = {
        {"search_path", "pg_catalog, pg_temp"},
        {"default_transaction_read_only", "off"},
        {"default_transaction_isolation", "read committed"},
        {"default_transaction_deferrable", "off"},
        {"statement_timeout", "0"},
        {"lock_timeout", "0"},
        {"idle_in_transaction_session_timeout", "0"},
        {"session_replication_role", "origin"},
        {"row_security", "on"},
    };
    for (const auto &setting : kOwnSettings)
        SetConfigOption(setting[0], setting[1], PGC_SUSET, PGC_S_OVERRIDE);

    atomics::store_release(&shared.state->worker_procno, int32_t(my_proc_number()));
    on_shmem_exit(
        [](int, Datum) {
            atomics::store_release(&shared.state->worker_pid, int32_t(0));
            ConditionVariableBroadcast(&shared.state->publish_cv);
        },
        Datum(0));

    watch_extension_changes();
    bool gone = guarded([] {
        Worker worker;
        worker.run();
        return worker.extension_gone();
    });
    if (gone)
        atomics::store_release(&shared.state->dormant, 1u);
    // The launcher starts the worker again unless it is dormant or stepped
    // aside (or the server stops).
    proc_exit(0);
}

}  // extern "C"
