// Shared memory: size request, one-time initialisation, the slot of each
// served database, attachment.
//
// Layout: a header (the launcher, standby requests), then max_databases
// slots, each a control block (SharedState) followed by that database's
// ring, dictionary, version table and recent bumps. Nothing crosses slots:
// a database's commits, versions, floors and resets live in its own.
//
// Locking protocol: the segment is created once under AddinShmemInitLock by
// the postmaster and never resized. A slot is claimed (its parts created
// afresh, then served_database release-stored) and released under the
// tranche's first lock; it is released only after DROP DATABASE, when no
// session can be bound to it, so a bound process never sees its slot change.
// Inside a slot no lock guards anything: see shared_state.hpp for which
// process writes which field and the ordering that publishes it. On a hot
// standby a slot's dictionary and version table have two writers,
// serialised by that slot's own lock of the tranche (standby_state.cpp).
#include "pg_fraiseql_cache/shared_state.hpp"

#include "pg_fraiseql_cache/guc.hpp"

extern "C" {
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#if PG_VERSION_NUM >= 190000
#include "catalog/pg_database.h"
#include "utils/lsyscache.h"
#endif
#include "storage/procarray.h"
#if PG_VERSION_NUM < 150000
#include "postmaster/autovacuum.h"
#include "replication/walsender.h"
#endif
}

namespace fraiseql_cache {

Shared shared;

namespace {

#if PG_VERSION_NUM >= 150000
shmem_request_hook_type prev_shmem_request_hook = nullptr;
#endif
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

constexpr const char *kTranche = "pg_fraiseql_cache";

constexpr std::size_t align_up(std::size_t n) { return (n + 63) & ~std::size_t(63); }

// Entries of the wait board: one per PGPROC number a backend or background
// worker can have (PostgreSQL 15 computes MaxBackends before the request
// hook; before that, its parts are summed here).
std::size_t wait_board_entries() {
#if PG_VERSION_NUM >= 150000
    return std::size_t(MaxBackends);
#else
    return std::size_t(MaxConnections + autovacuum_max_workers + 1 + max_worker_processes +
                       max_wal_senders);
#endif
}

std::size_t slot_size() {
    return align_up(sizeof(SharedState)) + align_up(Ring::bytes_needed(settings.ring_size)) +
           align_up(DomainDict::bytes_needed(uint64_t(settings.max_domains))) +
           align_up(VersionTable::bytes_needed(settings.max_entries)) +
           align_up(RecentRing::bytes_needed(kRecentBumps)) +
           align_up(WaitBoard::bytes_needed(wait_board_entries()));
}

std::size_t segment_size() {
    return align_up(sizeof(SegmentHeader)) + std::size_t(settings.max_databases) * slot_size();
}

SegmentHeader *header = nullptr;
char *slots_base = nullptr;
LWLockPadded *locks = nullptr;  // [0] claims, [1 + i] slot i's standby writers

char *slot_memory(int i) { return slots_base + std::size_t(i) * slot_size(); }

// Creates (fresh) or attaches slot i's parts.
Shared make_view(int i, bool create) {
    Shared v;
    char *base = slot_memory(i);
    char *ring_memory = base + align_up(sizeof(SharedState));
    char *dict_memory = ring_memory + align_up(Ring::bytes_needed(settings.ring_size));
    char *table_memory =
        dict_memory + align_up(DomainDict::bytes_needed(uint64_t(settings.max_domains)));
    char *recent_memory = table_memory + align_up(VersionTable::bytes_needed(settings.max_entries));
    char *board_memory = recent_memory + align_up(RecentRing::bytes_needed(kRecentBumps));
    v.state = reinterpret_cast<SharedState *>(base);
    v.slot = i;
    v.standby_lock = &locks[1 + i].lock;
    if (create) {
        v.ring = Ring::create(ring_memory, settings.ring_size);
        v.domains = DomainDict::create(dict_memory, uint64_t(settings.max_domains));
        v.versions = VersionTable::create(table_memory, settings.max_entries);
        v.recent = RecentRing::create(recent_memory, kRecentBumps);
        v.waiters = WaitBoard::create(board_memory, wait_board_entries());
    } else {
        v.ring = Ring::attach(ring_memory);
        v.domains = DomainDict::attach(dict_memory);
        v.versions = VersionTable::attach(table_memory);
        v.recent = RecentRing::attach(recent_memory);
        v.waiters = WaitBoard::attach(board_memory, wait_board_entries());
    }
    return v;
}

// A slot's control block as a free slot has it.
void reset_state(SharedState *st) {
    memset(static_cast<void *>(st), 0, sizeof(SharedState));
    st->worker_procno = -1;
    st->standby_loader_procno = -1;
    ConditionVariableInit(&st->publish_cv);
}

void request_shmem() {
#if PG_VERSION_NUM >= 150000
    if (prev_shmem_request_hook != nullptr)
        prev_shmem_request_hook();
#endif
    RequestAddinShmemSpace(segment_size());
    RequestNamedLWLockTranche(kTranche, 1 + settings.max_databases);
}

void startup_shmem() {
    if (prev_shmem_startup_hook != nullptr)
        prev_shmem_startup_hook();

    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    char *base = static_cast<char *>(ShmemInitStruct("fraiseql_cache", segment_size(), &found));
    header = reinterpret_cast<SegmentHeader *>(base);
    slots_base = base + align_up(sizeof(SegmentHeader));
    locks = GetNamedLWLockTranche(kTranche);
    if (!found) {
        memset(static_cast<void *>(header), 0, sizeof(SegmentHeader));
        header->max_databases = uint32_t(settings.max_databases);
        header->launcher_procno = -1;
        for (int i = 0; i < settings.max_databases; i++) {
            reset_state(reinterpret_cast<SharedState *>(slot_memory(i)));
            (void)make_view(i, true);
        }
    }
    LWLockRelease(AddinShmemInitLock);
}

// Cached per backend: the database's name cannot change while a session is
// connected to it (ALTER DATABASE ... RENAME refuses).
bool this_database_allowed() {
    static int allowed = -1;
    if (allowed < 0) {
        char *name = get_database_name(MyDatabaseId);
        allowed = name != nullptr && database_allowed(name) ? 1 : 0;
    }
    return allowed == 1;
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

bool segment_attached() { return header != nullptr; }
SegmentHeader *segment() { return header; }
int max_databases() { return header != nullptr ? int(header->max_databases) : 0; }

Shared slot_view(int i) { return make_view(i, false); }

int find_slot(Oid database) {
    for (int i = 0; i < max_databases(); i++)
        if (atomics::load_acquire(&reinterpret_cast<SharedState *>(slot_memory(i))->served_database) ==
            uint32_t(database))
            return i;
    return -1;
}

int claim_slot(Oid database) {
    int found = find_slot(database);
    if (found >= 0)
        return found;
    LWLockAcquire(&locks[0].lock, LW_EXCLUSIVE);
    found = find_slot(database);
    if (found < 0) {
        for (int i = 0; i < max_databases(); i++) {
            auto *st = reinterpret_cast<SharedState *>(slot_memory(i));
            if (atomics::load_acquire(&st->served_database) != 0)
                continue;
            reset_state(st);
            (void)make_view(i, true);
            atomics::store_release(&st->served_database, uint32_t(database));
            found = i;
            break;
        }
    }
    LWLockRelease(&locks[0].lock);
    if (found >= 0)
        wake_launcher();
    return found;
}

void release_slot(int slot, Oid database) {
    LWLockAcquire(&locks[0].lock, LW_EXCLUSIVE);
    auto *st = reinterpret_cast<SharedState *>(slot_memory(slot));
    // Only if it still serves that database (not one that claimed it since).
    if (atomics::load_acquire(&st->served_database) == uint32_t(database))
        atomics::store_release(&st->served_database, 0u);
    LWLockRelease(&locks[0].lock);
}

void bind_slot(int slot) { shared = make_view(slot, false); }

void wake_launcher() {
    if (header == nullptr)
        return;
    int procno = atomics::load_acquire(&header->launcher_procno);
    if (procno >= 0)
        SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

bool database_allowed(const char *name) {
    return settings.database[0] == '\0' || strcmp(settings.database, name) == 0;
}

bool shared_ready() {
    return shared.state != nullptr &&
           atomics::load_acquire(&shared.state->served_database) == uint32_t(MyDatabaseId);
}

namespace {

enum class Served { kYes, kNotHere, kNoSlot };

// Binds `shared` to this database's slot, claiming one when the extension
// is installed here (a function or trigger of it is running, or it is
// being created) and none serves the database yet.
Served bind_this_database() {
    if (shared_ready())
        return Served::kYes;
    if (!segment_attached() || !this_database_allowed())
        return Served::kNotHere;
    int slot = find_slot(MyDatabaseId);
    if (slot < 0) {
        if (!OidIsValid(get_extension_oid("pg_fraiseql_cache", true)))
            return Served::kNotHere;
        slot = claim_slot(MyDatabaseId);
        if (slot < 0)
            return Served::kNoSlot;
    }
    bind_slot(slot);
    // A worker that found no extension here exits and waits to be asked.
    if (atomics::load_acquire(&shared.state->dormant) != 0) {
        atomics::store_release(&shared.state->dormant, 0u);
        wake_launcher();
    }
    return Served::kYes;
}

}  // namespace

bool serves_this_database() { return bind_this_database() == Served::kYes; }

void require_served_database() {
    if (!segment_attached())
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("pg_fraiseql_cache is not loaded through shared_preload_libraries"),
                 errhint("Add pg_fraiseql_cache to shared_preload_libraries in postgresql.conf "
                         "and restart the server.")));
    switch (bind_this_database()) {
    case Served::kYes:
        return;
    case Served::kNoSlot:
        ereport(ERROR,
                (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                 errmsg("pg_fraiseql_cache serves at most %d databases, and they are all taken",
                        max_databases()),
                 errdetail("A database keeps its slot until it is dropped or the server "
                           "restarts."),
                 errhint("Raise fraiseql_cache.max_databases and restart the server, or drop "
                         "the extension from a database that no longer needs it and restart.")));
        break;
    case Served::kNotHere:
        if (settings.database[0] != '\0')
            ereport(ERROR,
                    (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                     errmsg("database \"%s\" is not served by pg_fraiseql_cache",
                            get_database_name(MyDatabaseId)),
                     errdetail("fraiseql_cache.database is set to \"%s\": only that database "
                               "is served.",
                               settings.database),
                     errhint("Track tables in database \"%s\", or set fraiseql_cache.database "
                             "to '' (every database with the extension) and restart the server.",
                             settings.database)));
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("database \"%s\" is not served by pg_fraiseql_cache",
                        get_database_name(MyDatabaseId)),
                 errhint("Run CREATE EXTENSION pg_fraiseql_cache in this database.")));
    }
}

void wake_worker() {
    int procno = atomics::load_acquire(&shared.state->worker_procno);
    if (atomics::load_acquire(&shared.state->worker_pid) != 0 && procno >= 0)
        SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

}  // namespace fraiseql_cache
