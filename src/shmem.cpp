// Shared memory: size request, one-time initialisation, attachment.
//
// Locking protocol: the segment is created once under AddinShmemInitLock by
// the postmaster (or the first process of an EXEC_BACKEND build) and never
// resized. After that no lock guards it: see shared_state.hpp for which
// process writes which field and the ordering that publishes it. On a hot
// standby the dictionary and version table have two writers, serialised by
// shared.standby_lock (standby_state.cpp).
#include "pg_fraiseql_cache/shared_state.hpp"

#include "pg_fraiseql_cache/guc.hpp"

extern "C" {
#include "commands/dbcommands.h"
#if PG_VERSION_NUM >= 190000
#include "catalog/pg_database.h"
#include "utils/lsyscache.h"
#endif
#include "storage/procarray.h"
}

namespace fraiseql_cache {

Shared shared;

namespace {

#if PG_VERSION_NUM >= 150000
shmem_request_hook_type prev_shmem_request_hook = nullptr;
#endif
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

constexpr std::size_t align_up(std::size_t n) { return (n + 63) & ~std::size_t(63); }

std::size_t segment_size() {
    return align_up(sizeof(SharedState)) + align_up(Ring::bytes_needed(settings.ring_size)) +
           align_up(DomainDict::bytes_needed(uint64_t(settings.max_domains))) +
           align_up(VersionTable::bytes_needed(settings.max_entries)) +
           align_up(RecentRing::bytes_needed(kRecentBumps));
}

void request_shmem() {
#if PG_VERSION_NUM >= 150000
    if (prev_shmem_request_hook != nullptr)
        prev_shmem_request_hook();
#endif
    RequestAddinShmemSpace(segment_size());
    RequestNamedLWLockTranche("pg_fraiseql_cache", 1);
}

void startup_shmem() {
    if (prev_shmem_startup_hook != nullptr)
        prev_shmem_startup_hook();

    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    char *base = static_cast<char *>(ShmemInitStruct("fraiseql_cache", segment_size(), &found));
    char *ring_memory = base + align_up(sizeof(SharedState));
    char *dict_memory = ring_memory + align_up(Ring::bytes_needed(settings.ring_size));
    char *table_memory = dict_memory + align_up(DomainDict::bytes_needed(uint64_t(settings.max_domains)));
    char *recent_memory = table_memory + align_up(VersionTable::bytes_needed(settings.max_entries));
    shared.state = reinterpret_cast<SharedState *>(base);
    if (!found) {
        memset(static_cast<void *>(shared.state), 0, sizeof(SharedState));
        shared.state->standby_loader_procno = -1;
        ConditionVariableInit(&shared.state->publish_cv);
        shared.ring = Ring::create(ring_memory, settings.ring_size);
        shared.domains = DomainDict::create(dict_memory, uint64_t(settings.max_domains));
        shared.versions = VersionTable::create(table_memory, settings.max_entries);
        shared.recent = RecentRing::create(recent_memory, kRecentBumps);
    } else {
        shared.ring = Ring::attach(ring_memory);
        shared.domains = DomainDict::attach(dict_memory);
        shared.versions = VersionTable::attach(table_memory);
        shared.recent = RecentRing::attach(recent_memory);
    }
    shared.standby_lock = &GetNamedLWLockTranche("pg_fraiseql_cache")->lock;
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void install_shmem_hooks() {
#if PG_VERSION_NUM >= 150000
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
#else
    request_shmem();
#endif
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
}

bool shared_ready() { return shared.state != nullptr; }

namespace {
// Cached per backend: the parameter is fixed at server start.
Oid served_database() {
    static Oid served = InvalidOid;
    if (served == InvalidOid)
        served = get_database_oid(settings.database, true);
    return served;
}
}  // namespace

bool serves_this_database() { return shared_ready() && served_database() == MyDatabaseId; }

void require_served_database() {
    if (!shared_ready())
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("pg_fraiseql_cache is not loaded through shared_preload_libraries"),
                 errhint("Add pg_fraiseql_cache to shared_preload_libraries in postgresql.conf "
                         "and restart the server.")));
    if (served_database() != MyDatabaseId)
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("database \"%s\" is not served by pg_fraiseql_cache",
                        get_database_name(MyDatabaseId)),
                 errdetail("The worker serves database \"%s\".", settings.database),
                 errhint("Track tables in database \"%s\", or set fraiseql_cache.database to "
                         "this database and restart the server.",
                         settings.database)));
}

void wake_worker() {
    int procno = atomics::load_acquire(&shared.state->worker_procno);
    if (atomics::load_acquire(&shared.state->worker_pid) != 0 && procno >= 0)
        SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

}  // namespace fraiseql_cache
