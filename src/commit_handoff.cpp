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
#include <vector>

#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/pending.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "pgstat.h"
}

namespace fraiseql_cache::pending {

PairSet *pairs = nullptr;
uint64_t rows_seen = 0;

namespace {

struct LocalDomain {
    DomainName name;
    bool global;
    uint64_t counted_in;  // last hand-off whose slot of this domain counts for (all, d)
};
std::vector<LocalDomain> *local_domains = nullptr;

// Longest time a commit waits for room in a full ring before requesting a
// reset instead.
constexpr long kRingFullWaitUs = 50 * 1000;

struct WaitTarget {
    bool pending;
    uint64_t position;         // published must reach this
    uint64_t overflow_ticket;  // overflow_served must reach this (0: none)
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
    LocalDomain &d = (*local_domains)[key.domain_id & ~(kWholeDomain | kManual)];
    bool counts_for_all = d.counted_in != xact;
    d.counted_in = xact;
    slot.committed_at = now;
    slot.database = MyDatabaseId;
    slot.flags = (d.global ? kSlotGlobal : 0u) |
                 ((key.domain_id & kWholeDomain) ? kSlotWholeDomain : 0u) |
                 ((key.domain_id & kManual) ? kSlotManual : 0u) |
                 (counts_for_all ? kSlotCountsForAll : 0u);
    slot.tenant = key.tenant;
    slot.domain = d.name;
}

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

    wait_target.pending = settings.wait_for_bump && settings.wait_timeout_ms > 0 && worker_expected();
    wait_target.position = last_position;
    wait_target.overflow_ticket = ticket;
    discard();
}

bool published(const WaitTarget &t) {
    return atomics::load_acquire(&shared.state->published) >= t.position &&
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
    sleep_until_published(settings.wait_timeout_ms,
                          [&] { return published(t) || !worker_expected(); });
    if (!published(t))
        count(&Counters::wait_timeouts);
}

void on_xact_event(XactEvent event, void *) {
    switch (event) {
        case XACT_EVENT_PRE_PREPARE:
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
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PREPARE:
        case XACT_EVENT_PARALLEL_ABORT:
            discard();
            wait_target.pending = false;
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
        if (local_domains == nullptr)
            local_domains = new std::vector<LocalDomain>();
        for (std::size_t i = 0; i < local_domains->size(); i++) {
            LocalDomain &d = (*local_domains)[i];
            if (d.name.equals(name, len) && d.global == global)
                return uint32_t(i);
        }
        LocalDomain d{};
        if (!DomainName::from(name, len, &d.name))
            return kNoDomain;
        d.global = global;
        local_domains->push_back(d);
        return uint32_t(local_domains->size() - 1);
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
