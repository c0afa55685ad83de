// The shared-memory segment: control block, hand-off ring, domain
// dictionary and version table.
//
// Who writes what
//   backends   ring slots they claimed, overflow_requested, stats counters
//   worker     everything else: dictionary, version table, published,
//              overflow_served, floor, loaded, worker identity
//   readers    (current_version) read the dictionary and version table
//              without locks; see domain_dict.hpp and version_table.hpp.
//
// Ordering
//   The worker stores a batch's versions in the table, then release-stores
//   `published` (and `overflow_served`), then wakes the committers the
//   batch satisfied (wait_board.hpp) and broadcasts publish_cv. A backend
//   that acquire-loads published >= its last ring position therefore sees
//   its versions in the table.
#pragma once

#include <cstdint>
#include <type_traits>

#include "pg_fraiseql_cache/domain_dict.hpp"
#include "pg_fraiseql_cache/pg.hpp"
#include "pg_fraiseql_cache/recent_ring.hpp"
#include "pg_fraiseql_cache/ring.hpp"
#include "pg_fraiseql_cache/version_table.hpp"
#include "pg_fraiseql_cache/wait_board.hpp"

extern "C" {
#include "utils/wait_event.h"
}

namespace fraiseql_cache {

// Bumps kept for fraiseql_cache.v_recent_invalidations.
constexpr uint64_t kRecentBumps = 1024;

struct Counters {
    uint64_t rows_seen;          // trigger calls that recorded a row
    uint64_t pairs_recorded;     // distinct pairs handed off at commit
    uint64_t xacts_handed_off;   // committed transactions with pairs
    uint64_t bumps;              // versions assigned
    uint64_t batches;            // worker transactions that published
    uint64_t ring_full_waits;    // commits that found the ring full
    uint64_t overflows;          // commits that gave up and requested a reset
    uint64_t resets;             // resets the worker performed
    uint64_t wait_timeouts;      // read-your-writes waits that timed out
    uint64_t spilled_pairs;      // pairs refused by a full shared-memory table
    uint64_t table_reads;        // reads answered from domain_version
    uint64_t notifies;           // notifications sent
    uint64_t cascades;           // bumps that came from cascade rules
    uint64_t stalled_waits;      // read-your-writes waits cut short: the worker waited on a lock
    uint64_t collapsed_xacts;    // transactions too large for the ring, handed off per domain
    uint64_t refused_domains;    // new domains refused by max_domains_per_role
    int64_t last_batch_lag_us;   // oldest hand-off to publication, last batch
    int64_t max_batch_lag_us;    // the largest such lag since start
};
static_assert(std::is_trivially_copyable_v<Counters>);

// One database's part of the segment (see shmem.cpp): this control block,
// then its ring, dictionary, version table and recent bumps.
struct SharedState {
    uint32_t loaded;            // 1: versions are served from shared memory
    uint32_t served_database;   // OID of the database this slot serves, 0: a free slot
    // The worker found no extension in the database and exited: not started
    // again until a session of the database asks for it (CREATE EXTENSION).
    uint32_t dormant;
    // A command needs the database without other sessions (CREATE DATABASE
    // ... TEMPLATE, ALTER DATABASE ... RENAME, DROP DATABASE): the worker
    // exits, and is not started again, while this is set.
    uint32_t step_aside;
    int32_t worker_pid;         // 0 when no worker runs
    int32_t worker_procno;      // its PGPROC number, for SetLatch
    uint64_t published;         // every ring position below it is published
    uint64_t overflow_requested;
    uint64_t overflow_served;
    uint64_t floor;             // version of a pair never bumped
    uint32_t spilled;           // 1: some pairs live only in domain_version
    uint32_t loaded_extension;  // OID of the extension the versions were loaded from
    uint32_t connect_failures;  // worker starts in a row that did not reach its database
    // Changes to cascade_rules: advanced by committing backends before and
    // after their commit; rules_inflight counts those in between.
    uint64_t rules_generation;
    uint32_t rules_inflight;
    // A hot standby (standby_wal.cpp): the loader's database and whether it
    // has loaded the replayed tables, after which the startup process keeps
    // the dictionary and version table equal to what it has replayed.
    uint32_t standby_database;
    uint32_t standby_loaded;
    int32_t standby_loader_procno;  // -1: none
    uint32_t standby_connect_failures;
    uint64_t scope_epoch;  // advanced by each replayed scope change
    uint64_t reload_generation;  // advanced by each replayed RELOAD (under standby_lock)
    Counters counters;
    ConditionVariable publish_cv;
};

// This process's view of one database's slot (bound by serves_this_database()
// in a backend, by the worker and the standby loader at start, per record
// by the startup process).
struct Shared {
    SharedState *state = nullptr;
    int slot = -1;
    Ring ring;
    DomainDict domains;
    VersionTable versions;
    RecentRing recent;
    WaitBoard waiters;  // committers waiting for read-your-writes
    // Serialises the two writers of a hot standby's dictionary and version
    // table (the startup process replaying, the loader); readers never take it.
    LWLock *standby_lock = nullptr;
};

// Null fields until bound to this database's slot (never, without preloading).
extern Shared shared;

// The segment's header: the slots and the launcher.
constexpr int kStandbyRequests = 16;
struct SegmentHeader {
    uint32_t max_databases;
    int32_t launcher_procno;  // -1: none
    // Databases whose standby records found no loader: the launcher starts one.
    uint32_t standby_requests[kStandbyRequests];
};

bool segment_attached();
SegmentHeader *segment();
int max_databases();
// The view of slot i (any slot, free or not).
Shared slot_view(int i);
// The slot serving `database`, or -1.
int find_slot(Oid database);
// The slot serving `database`, claimed if none does (a fresh slot: empty
// ring, dictionary and table). -1 when every slot is taken.
int claim_slot(Oid database);
// After DROP DATABASE: the slot may serve another database (if it still
// serves `database`).
void release_slot(int slot, Oid database);
// Binds `shared` to slot i.
void bind_slot(int slot);
// Wakes the launcher, if it runs. Never fails.
void wake_launcher();
// Whether fraiseql_cache.database allows serving this database (empty: all).
bool database_allowed(const char *name);

void install_shmem_hooks();
// The object access hook for TRUNCATE and DROP of tracked relations (ddl_hooks.cpp).
void install_ddl_hooks();
bool shared_ready();

// Raises a clear error unless the library was preloaded and this database
// is served (binding `shared` to its slot, claiming one if the extension is
// installed here and none serves it yet).
void require_served_database();
// The same without an error: false when not served (or no slot is free).
bool serves_this_database();

// Wakes the worker, if one runs. Never fails.
void wake_worker();

// Sleeps on publish_cv (the worker broadcasts after each batch and after a
// load) until stop() is true or timeout_ms has passed; returns stop().
// Raises no error of its own; with interrupts held (at commit) it cannot be
// cancelled, so the timeout is what bounds it.
template <typename Stop>
bool sleep_until_published(long timeout_ms, Stop &&stop) {
    TimestampTz start = GetCurrentTimestamp();
    ConditionVariablePrepareToSleep(&shared.state->publish_cv);
    bool done;
    for (;;) {
        if ((done = stop()))
            break;
        long elapsed_ms = long((GetCurrentTimestamp() - start) / 1000);
        if (elapsed_ms >= timeout_ms)
            break;
        long remaining = timeout_ms - elapsed_ms;
        ConditionVariableTimedSleep(&shared.state->publish_cv, remaining < 10 ? remaining : 10,
                                    PG_WAIT_EXTENSION);
    }
    ConditionVariableCancelSleep();
    return done;
}

inline void count(uint64_t Counters::*field, uint64_t n = 1) {
    atomics::fetch_add(&(shared.state->counters.*field), n);
}

}  // namespace fraiseql_cache
