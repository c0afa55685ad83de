// Commit hand-off: the transaction's pairs go into the shared ring at
// COMMIT, and the backend waits (bounded) for their publication once its
// locks are released.
//
// Timing, from CommitTransaction():
//   PRE_PREPARE   refuse PREPARE TRANSACTION while pairs are pending
//   COMMIT        the commit is durable and visible to new snapshots (I1),
//                 interrupts are held: push to the ring, never fail, wait
//                 only a bounded time when the ring is full
//   AFTER_LOCKS   resource-release phase after heavyweight locks are gone:
//                 the read-your-writes wait (I6), bounded by wait_timeout_ms,
//                 so other writers never queue behind it (I8)
//   ABORT         discard (I5)
#include <string>
#include <unordered_map>
#include <vector>

#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/pending.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "pgstat.h"
#include "replication/logicalworker.h"
#include "storage/lock.h"
#include "storage/proc.h"
}

namespace fraiseql_cache::pending {

PairSet *pairs = nullptr;
uint64_t rows_seen = 0;
bool rules_changed = false;
bool setup_ddl = false;
bool serve_requested = false;

namespace {

struct LocalDomain {
    DomainName name;
    bool global;
    uint64_t counted_in;  // last hand-off whose slot of this domain counts for (all, d)
};
std::vector<LocalDomain> *local_domains = nullptr;
// Name (plus a global marker byte) -> index in local_domains.
std::unordered_map<std::string, uint32_t> *local_domain_index = nullptr;
// This transaction counted itself in rules_inflight (see Worker::refresh_rules).
bool rules_counted = false;

// Longest time a commit waits for room in a full ring before requesting a
// reset instead.
constexpr long kRingFullWaitUs = 50 * 1000;

struct WaitTarget {
    bool pending;
    uint64_t position;         // published must reach this
    uint64_t overflow_ticket;  // overflow_served must reach this (0: none)
    bool persisted;            // wait_for_bump = persisted: the ring's tail must reach it
};
WaitTarget wait_target = {};

// Whether a commit should wait for publication: the worker serves, or has
// not loaded yet (server start, crash-restart, extension created): it will
// publish this commit's bumps as soon as it has loaded, normally within
// milliseconds, and read-your-writes (I6) must hold in that window too. Not
// when a worker that had loaded has gone away (it is restarted only after
// bgw_restart_time): that wait would just time out.
bool worker_expected() {
    return atomics::load_acquire(&shared.state->loaded) == 0 ||
           atomics::load_acquire(&shared.state->served_database) != uint32_t(MyDatabaseId) ||
           atomics::load_acquire(&shared.state->worker_pid) != 0;
}

void discard() noexcept {
    if (pairs != nullptr)
        pairs->clear();
    rows_seen = 0;
}

void fill_slot(RingSlot &slot, const PairKey &key, TimestampTz now,
               uint64_t xact) {
    const Recorded r = Recorded::from_key(key.domain_id);
    LocalDomain &d = (*local_domains)[r.local];
    bool counts_for_all = !r.registration && d.counted_in != xact;
    if (!r.registration)
        d.counted_in = xact;
    slot.committed_at = now;
    slot.database = MyDatabaseId;
    slot.flags = (d.global ? kSlotGlobal : 0u) | (r.whole_domain ? kSlotWholeDomain : 0u) |
                 (r.manual ? kSlotManual : 0u) | (r.registration ? kSlotRegister : 0u) |
                 (counts_for_all ? kSlotCountsForAll : 0u);
    slot.tenant = key.tenant;
    slot.domain = d.name;
}

// A transaction with more pairs than a quarter of the ring (say a 100,000-
// tenant UPDATE) would wait for the worker to drain the ring several times
// over, and crowd out every other commit meanwhile. At PRE_COMMIT (where an
// error still aborts cleanly) it becomes one whole-domain bump per domain:
// every tenant of those domains moves, seen or not (their domain floor
// rises), which is conservative and never wrong. Registrations stay as they are.
void collapse_if_large() {
    if (pairs == nullptr || !shared_ready())
        return;
    const uint64_t limit = std::max<uint64_t>(shared.ring.capacity() / 4, 64);
    if (pairs->size() <= limit)
        return;
    bool ok = true;
    try {
        std::vector<PairKey> kept;
        std::vector<bool> seen(local_domains->size(), false);
        pairs->for_each([&](const PairKey &key, uint32_t) {
            const Recorded r = Recorded::from_key(key.domain_id);
            if (r.registration) {
                kept.push_back(key);
            } else if (!seen[r.local]) {
                seen[r.local] = true;
                kept.push_back(PairKey{Recorded{r.local, true, false, false}.key(), TenantId::all()});
            }
        });
        // The set only shrinks: re-adding into its own table needs no memory.
        pairs->clear();
        for (const PairKey &k : kept)
            pairs->add(k.domain_id, k.tenant);
    } catch (...) {
        ok = false;  // the set is unchanged unless clear() ran, which cannot throw
    }
    if (!ok)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
                        errdetail("pg_fraiseql_cache could not hand off a large transaction.")));
    count(&Counters::collapsed_xacts);
}

// Whether the worker waits for a lock a session can hold for long: on a
// relation (LOCK TABLE, DDL), a transaction (a row or key another
// transaction has not committed yet) or a tuple. Read from the worker's
// PGPROC wait event the way pg_stat_activity does (a racy read of one aligned
// word). Relation extension waits are not counted, the worker's tables are
// never truncated by vacuum, and shorter waits than kStallMs are not taken
// for a stall.
bool worker_waits_on_session_lock() {
    int procno = atomics::load_acquire(&shared.state->worker_procno);
    if (procno < 0 || atomics::load_acquire(&shared.state->worker_pid) == 0)
        return false;
    uint32 event = *static_cast<volatile uint32 *>(&ProcGlobal->allProcs[procno].wait_event_info);
    if ((event & 0xFF000000U) != PG_WAIT_LOCK)
        return false;
    uint32 tag = event & 0xFFFFU;
    return tag == LOCKTAG_RELATION || tag == LOCKTAG_TRANSACTION || tag == LOCKTAG_TUPLE;
}

// A commit stops waiting for a worker seen waiting on such a lock for this
// long: the worker is stalled, not busy. Until then read-your-writes holds
// through brief lock waits.
constexpr long kStallMs = 250;

// Runs in the COMMIT callback: nothing here may raise an error or wait
// without bound.
void hand_off() noexcept {
    if (!any() || !shared_ready()) {
        discard();
        return;
    }
    Ring &ring = shared.ring;
    uint64_t remaining = pairs->size();
    std::size_t next_slot = 0;
    bool overflow = false;
    uint64_t last_position = 0;
    long waited_us = 0;
    bool counted_wait = false;
    TimestampTz now = GetCurrentTimestamp();
    // Identifies this hand-off among this backend's (see LocalDomain).
    static uint64_t commits = 0;
    uint64_t xact = (uint64_t(my_proc_number()) << 40) | (++commits & ((uint64_t(1) << 40) - 1));

    while (remaining > 0) {
        uint64_t position = 0;
        uint64_t got = ring.claim(remaining, &position);
        if (got == 0) {
            if (!counted_wait) {
                count(&Counters::ring_full_waits);
                counted_wait = true;
            }
            wake_worker();
            if (atomics::load_acquire(&shared.state->worker_pid) == 0 ||
                waited_us >= kRingFullWaitUs) {
                overflow = true;
                break;
            }
            pg_usleep(200);
            waited_us += 200;
            continue;
        }
        for (uint64_t k = 0; k < got; k++) {
            while (!pairs->slot_at(next_slot).used)
                next_slot++;
            RingSlot &slot = ring.slot(position + k);
            fill_slot(slot, pairs->slot_at(next_slot).key, now, xact);
            next_slot++;
            ring.publish(position + k);
        }
        remaining -= got;
        last_position = position + got;
        // The 50 ms bound is per wait for room: a transaction larger than
        // the ring goes through in parts as the worker drains, each part
        // bounded, rather than falling back to a reset.
        waited_us = 0;
    }

    uint64_t ticket = 0;
    if (overflow) {
        // Like sinval's reset: the worker will bump every pair of this
        // database, which covers whatever did not fit.
        ticket = atomics::fetch_add(&shared.state->overflow_requested, uint64_t(1)) + 1;
        count(&Counters::overflows);
    }
    count(&Counters::rows_seen, rows_seen);
    count(&Counters::pairs_recorded, pairs->size());
    count(&Counters::xacts_handed_off);
    wake_worker();

    // Logical replication apply and table sync never wait: a subscriber
    // applies in commit order, and waiting per transaction would only make
    // it fall behind.
    wait_target.pending = settings.wait_for_bump != int(WaitForBump::kOff) &&
                          settings.wait_timeout_ms > 0 &&
                          worker_expected() && !IsLogicalWorker();
    wait_target.position = last_position;
    wait_target.persisted = settings.wait_for_bump == int(WaitForBump::kPersisted);
    wait_target.overflow_ticket = ticket;
    discard();
}

// The ring's tail passes a position once the worker's transaction that
// persisted it has committed.
bool published(const WaitTarget &t) {
    uint64_t reached = t.persisted ? shared.ring.tail() : atomics::load_acquire(&shared.state->published);
    return reached >= t.position &&
           atomics::load_acquire(&shared.state->overflow_served) >= t.overflow_ticket;
}

// Interrupts are held here (we are inside CommitTransaction), so the sleep
// cannot be cancelled: it is bounded by wait_timeout_ms and by the worker
// going away. Nothing here can raise an error.
void wait_for_publication() {
    WaitTarget t = wait_target;
    wait_target.pending = false;
    if (published(t))
        return;
    bool stalled = false;
    TimestampTz lock_wait_seen = 0;
    auto done = [&] {
        if (published(t) || !worker_expected())
            return true;
        if (!worker_waits_on_session_lock()) {
            lock_wait_seen = 0;
            return false;
        }
        TimestampTz now = GetCurrentTimestamp();
        if (lock_wait_seen == 0)
            lock_wait_seen = now;
        return stalled = TimestampDifferenceExceeds(lock_wait_seen, now, int(kStallMs));
    };
    const int procno = my_proc_number();
    if (shared.waiters.covers(procno)) {
        // Woken through this process's latch by the batch that publishes the
        // position (wait_board.hpp); the 10 ms slices re-check the rest.
        shared.waiters.announce(procno, t.position, t.persisted);
        TimestampTz start = GetCurrentTimestamp();
        for (;;) {
            ResetLatch(MyLatch);
            if (done())
                break;
            long elapsed_ms = long((GetCurrentTimestamp() - start) / 1000);
            if (elapsed_ms >= settings.wait_timeout_ms)
                break;
            long remaining = settings.wait_timeout_ms - elapsed_ms;
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                            remaining < 10 ? remaining : 10, PG_WAIT_EXTENSION);
        }
        shared.waiters.withdraw(procno);
    } else {
        sleep_until_published(settings.wait_timeout_ms, done);
    }
    if (published(t))
        return;
    count(stalled ? &Counters::stalled_waits : &Counters::wait_timeouts);
}

void end_rules_change() {
    if (rules_counted) {
        atomics::fetch_add(&shared.state->rules_generation, uint64_t(1));
        atomics::fetch_add(&shared.state->rules_inflight, uint32_t(-1));
        rules_counted = false;
    }
    rules_changed = false;
    setup_ddl = false;
}

void on_xact_event(XactEvent event, void *) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
            collapse_if_large();
            if (rules_changed && shared_ready()) {
                atomics::fetch_add(&shared.state->rules_inflight, uint32_t(1));
                atomics::fetch_add(&shared.state->rules_generation, uint64_t(1));
                rules_counted = true;
            }
            break;
        case XACT_EVENT_PRE_PREPARE:
            if (rules_changed)
                ereport(ERROR,
                        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                         errmsg("cannot PREPARE a transaction that changed "
                                "fraiseql_cache.cascade_rules"),
                         errhint("Change cascade rules outside two-phase commit.")));
            if (any())
                ereport(ERROR,
                        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                         errmsg("cannot PREPARE a transaction that changed tables tracked by "
                                "pg_fraiseql_cache"),
                         errdetail("Two-phase state cannot carry pending cache invalidations."),
                         errhint("Commit the transaction directly, or make the tracked writes "
                                 "outside two-phase commit.")));
            break;
        case XACT_EVENT_COMMIT:
            hand_off();
            end_rules_change();
            if (serve_requested && shared_ready() &&
                atomics::load_acquire(&shared.state->dormant) != 0) {
                atomics::store_release(&shared.state->dormant, 0u);
                wake_launcher();
            }
            serve_requested = false;
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PREPARE:
        case XACT_EVENT_PARALLEL_ABORT:
            discard();
            end_rules_change();
            wait_target.pending = false;
            serve_requested = false;
            break;
        default:
            break;
    }
}

void on_resource_release(ResourceReleasePhase phase, bool is_commit, bool is_top_level, void *) {
    if (phase == RESOURCE_RELEASE_AFTER_LOCKS && is_commit && is_top_level &&
        wait_target.pending)
        wait_for_publication();
}

}  // namespace

uint32_t intern_domain(const char *name, std::size_t len, bool global) noexcept {
    try {
        if (local_domains == nullptr) {
            local_domains = new std::vector<LocalDomain>();
            local_domain_index = new std::unordered_map<std::string, uint32_t>();
        }
        std::string key(name, len);
        key.push_back(global ? '\1' : '\0');
        auto found = local_domain_index->find(key);
        if (found != local_domain_index->end())
            return found->second;
        LocalDomain d{};
        // Local ids stay below the bits Recorded keeps its kinds in.
        if (!DomainName::from(name, len, &d.name) || local_domains->size() >= (1u << 29))
            return kNoDomain;
        d.global = global;
        local_domains->push_back(d);
        uint32_t id = uint32_t(local_domains->size() - 1);
        local_domain_index->emplace(std::move(key), id);
        return id;
    } catch (...) {
        return kNoDomain;
    }
}

bool ensure_ready() noexcept {
    if (pairs != nullptr)
        return true;
    try {
        pairs = new PairSet(256);
    } catch (...) {
        return false;
    }
    RegisterXactCallback(on_xact_event, nullptr);
    RegisterResourceReleaseCallback(on_resource_release, nullptr);
    return true;
}

}  // namespace fraiseql_cache::pending
