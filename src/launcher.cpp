// The launcher: one background worker, connected to no database, that
// starts a worker for every served database (on a hot standby, a loader).
//
// It keeps one running for every claimed slot. A slot is claimed by real
// use only: CREATE EXTENSION, or after a start (or in a database cloned or
// restored with the extension) the first trigger, function call or, on a
// standby, replayed record of the database; so the slots go to the
// databases in use, never to ones that merely carry the extension (clones
// of a template1 that has it). A worker is started again within a second if
// it died, not while its database is dormant (the extension was dropped) or
// stepped aside (CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME,
// DROP DATABASE), and the slot is released once its database is gone.
#include "pg_fraiseql_cache/boundary.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/launcher.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

#include <cstdio>
#include <unordered_map>

extern "C" {
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/wait_event.h"
}

namespace fraiseql_cache {
namespace {

struct Started {
    BackgroundWorkerHandle *handle;
    TimestampTz at;
};
// Database -> the last worker or loader started for it.
std::unordered_map<Oid, Started> *started = nullptr;
TimestampTz last_refusal_logged = 0;

bool running(Oid database) {
    auto it = started->find(database);
    if (it == started->end())
        return false;
    BackgroundWorkerHandle *handle = it->second.handle;
    BgwHandleStatus status = pg_call([&] {
        pid_t pid;
        return GetBackgroundWorkerPid(handle, &pid);
    });
    if (status == BGWH_POSTMASTER_DIED)
        pg_call([] { proc_exit(1); });
    return status != BGWH_STOPPED;
}

void start(Oid database, bool loader) {
    BackgroundWorker w = {};
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_start_time = loader ? BgWorkerStart_ConsistentState : BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = BGW_NEVER_RESTART;
    std::snprintf(w.bgw_library_name, BGW_MAXLEN, "pg_fraiseql_cache");
    std::snprintf(w.bgw_function_name, BGW_MAXLEN, "%s",
                  loader ? "fraiseql_cache_standby_loader_main" : "fraiseql_cache_worker_main");
    const char *kind = loader ? "fraiseql_cache standby loader" : "fraiseql_cache worker";
    std::snprintf(w.bgw_name, BGW_MAXLEN, "%s", kind);
    std::snprintf(w.bgw_type, BGW_MAXLEN, "%s", kind);
    w.bgw_main_arg = ObjectIdGetDatum(database);
    w.bgw_notify_pid = MyProcPid;
    BackgroundWorkerHandle *handle = nullptr;
    if (!pg_call([&] { return RegisterDynamicBackgroundWorker(&w, &handle); })) {
        TimestampTz now = GetCurrentTimestamp();
        if (last_refusal_logged == 0 ||
            TimestampDifferenceExceeds(last_refusal_logged, now, 60 * 1000)) {
            last_refusal_logged = now;
            pg_call([&] {
            ereport(WARNING,
                    (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                     errmsg("pg_fraiseql_cache: no background worker slot free for the database "
                            "with OID %u",
                            database),
                     errhint("Raise max_worker_processes: one for the launcher and one per "
                             "served database, besides what other extensions use.")));
            });
        }
        return;
    }
    (*started)[database] = Started{handle, GetCurrentTimestamp()};
}

bool database_exists(Oid database) {
    return pg_call([&] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        bool exists = SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(database));
        CommitTransactionCommand();
        return exists;
    });
}

// One pass over the slots: start what is missing.
void tend(bool recovery) {
    TimestampTz now = GetCurrentTimestamp();
    for (int i = 0; i < max_databases(); i++) {
        SharedState *st = slot_view(i).state;
        Oid database = atomics::load_acquire(&st->served_database);
        if (database == InvalidOid || atomics::load_acquire(&st->step_aside) != 0)
            continue;
        if (atomics::load_acquire(&st->dormant) != 0 ||
            (recovery ? atomics::load_acquire(&st->standby_loader_procno) >= 0
                      : atomics::load_acquire(&st->worker_pid) != 0))
            continue;
        if (running(database))
            continue;
        auto it = started->find(database);
        if (it != started->end() && !TimestampDifferenceExceeds(it->second.at, now, 1000))
            continue;
        if (!database_exists(Oid(database))) {
            release_slot(i, database);
            continue;
        }
        start(database, recovery);
    }
    // Standby records for a database no loader serves yet.
    if (recovery)
        for (uint32_t &request : segment()->standby_requests) {
            uint32_t database = atomics::load_acquire(&request);
            if (database == 0)
                continue;
            atomics::store_release(&request, 0u);
            int slot = find_slot(database);
            if (slot >= 0 && atomics::load_acquire(&slot_view(slot).state->dormant) != 0)
                atomics::store_release(&slot_view(slot).state->dormant, 0u);
            else if (!running(database) && slot < 0)
                start(database, true);
        }
}

void run() {
    static std::unordered_map<Oid, Started> handles;
    started = &handles;
    bool recovery = RecoveryInProgress();
    while (!ShutdownRequestPending) {
        ResetLatch(MyLatch);
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            pg_call([] { ProcessConfigFile(PGC_SIGHUP); });
        }
        // Promoted: the loaders exit by themselves, workers take over.
        recovery = recovery && RecoveryInProgress();
        tend(recovery);
        pg_call([] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L,
                            PG_WAIT_EXTENSION);
            CHECK_FOR_INTERRUPTS();
        });
    }
}

}  // namespace

void register_launcher() {
    BackgroundWorker worker = {};
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_ConsistentState;
    worker.bgw_restart_time = 1;
    std::snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_fraiseql_cache");
    std::snprintf(worker.bgw_function_name, BGW_MAXLEN, "fraiseql_cache_launcher_main");
    std::snprintf(worker.bgw_name, BGW_MAXLEN, "fraiseql_cache launcher");
    std::snprintf(worker.bgw_type, BGW_MAXLEN, "fraiseql_cache launcher");
    RegisterBackgroundWorker(&worker);
}

}  // namespace fraiseql_cache

using namespace fraiseql_cache;

extern "C" {

PGDLLEXPORT void fraiseql_cache_launcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    // Shared catalogs only (pg_database).
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    atomics::store_release(&segment()->launcher_procno, int32_t(my_proc_number()));
    on_shmem_exit(
        [](int, Datum) { atomics::store_release(&segment()->launcher_procno, int32_t(-1)); },
        Datum(0));
    // An error exits the launcher; the postmaster starts it again after a
    // second, and the workers it started keep running meanwhile. Always
    // exit code 1: with 0 (a SIGTERM alone, pg_terminate_backend) the
    // postmaster would never start it again.
    guarded([] { run(); });
    proc_exit(1);
}

}  // extern "C"
