// The worker's shared-memory side: storing versions within the bounds of
// max_entries and max_entries_per_role (with the spill warnings), publishing
// ring positions and waking their committers, v_recent_invalidations, and
// the WAL records for hot standbys.
#include <algorithm>

#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/standby.hpp"
#include "pg_fraiseql_cache/worker.hpp"

extern "C" {
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "storage/proc.h"
}

namespace fraiseql_cache {

// Reads the domains' owners and counts the shared-memory pairs of each.
void Worker::load_owners() {
    owner_of_.clear();
    entries_of_.clear();
    for (const persistence::VersionRow &r : persistence::read_domain_owners()) {
        int32_t id = shared.domains.find(r.domain.bytes, r.domain.length());
        if (id != DomainDict::kNotFound)
            owner_of_[uint32_t(id)] = Oid(r.version);
    }
    shared.versions.for_each([&](uint32_t id, const TenantId &, uint64_t, int64_t) {
        auto it = owner_of_.find(id);
        entries_of_[it == owner_of_.end() ? InvalidOid : it->second]++;
    });
}

// Whether a new shared-memory pair of domain `id` fits its owner's bound.
// Superusers' domains (owner 0) are not bounded; domains without an owner
// (bumped only by hand) share one bound.
bool Worker::may_store_new(uint32_t id, Oid *bucket) {
    return !bounded_bucket(id, bucket) ||
           entries_of_[*bucket] < uint64_t(settings.max_entries_per_role);
}

// The role whose max_entries_per_role a new pair of domain `id` counts
// against (*bucket), and whether that bound applies.
bool Worker::bounded_bucket(uint32_t id, Oid *bucket) const {
    auto it = owner_of_.find(id);
    *bucket = it == owner_of_.end() ? InvalidOid : it->second;
    return settings.max_entries_per_role > 0 && !(it != owner_of_.end() && it->second == 0);
}

bool Worker::publish(const std::vector<persistence::VersionRow> &rows, bool only_raise) {
    uint64_t no_domain = 0, no_entry = 0, for_role = 0;
    for (const persistence::VersionRow &r : rows) {
        int32_t id = shared.domains.find(r.domain.bytes, r.domain.length());
        if (id == DomainDict::kNotFound) {
            no_domain++;
            continue;
        }
        uint64_t held = 0;
        bool known = shared.versions.lookup(uint32_t(id), r.tenant, &held);
        if (known && only_raise && held >= r.version)
            continue;
        Oid bucket = InvalidOid;
        if (!known && !may_store_new(uint32_t(id), &bucket)) {
            for_role++;
            refused_domain_ = r.domain;
            continue;
        }
        if (!shared.versions.store(uint32_t(id), r.tenant, r.version, r.last_modified))
            no_entry++;
        else if (!known)
            entries_of_[bucket]++;
    }
    refused_for_role_ += for_role;
    no_entry += for_role;
    uint64_t refused = no_domain + no_entry;
    if (refused == 0)
        return true;
    // Readers that miss in shared memory now consult domain_version.
    atomics::store_release(&state_->spilled, 1u);
    count(&Counters::spilled_pairs, refused);
    // Once a minute at most: in steady state every batch may spill.
    TimestampTz now = GetCurrentTimestamp();
    refused_since_warning_ += refused;
    spilled_for_domains_ += no_domain;
    if (last_spill_warning_ != 0 &&
        !TimestampDifferenceExceeds(last_spill_warning_, now, 60 * 1000))
        return false;
    refused = refused_since_warning_;
    uint64_t for_domains = spilled_for_domains_;
    refused_since_warning_ = 0;
    spilled_for_domains_ = 0;
    last_spill_warning_ = now;
    uint64_t for_roles = refused_for_role_;
    refused_for_role_ = 0;
    log_quietly([&] {
        if (for_roles > 0) {
            // No catalog access here (outside a transaction): the domain names the owner.
            ereport(WARNING,
                    (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                     errmsg("pg_fraiseql_cache: %llu version updates did not fit in shared memory",
                            (unsigned long long)refused),
                     errdetail("%llu of them belong to domains (such as \"%s\") whose owner's "
                               "domains hold fraiseql_cache.max_entries_per_role (%d) pairs "
                               "already; they are answered from fraiseql_cache.domain_version, "
                               "more slowly.",
                               (unsigned long long)for_roles, refused_domain_.bytes,
                               settings.max_entries_per_role),
                     errhint("Raise fraiseql_cache.max_entries_per_role, or retire unused "
                             "domains with fraiseql_cache.drop_domain().")));
        } else if (for_domains > 0)
            ereport(WARNING,
                    (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                     errmsg("pg_fraiseql_cache: %llu version updates did not fit in shared memory",
                            (unsigned long long)refused),
                     errdetail("%llu of them belong to domains beyond the %d that shared memory "
                               "names; they are answered from fraiseql_cache.domain_version, "
                               "more slowly.",
                               (unsigned long long)for_domains, settings.max_domains),
                     errhint("Retire unused domains with fraiseql_cache.drop_domain(), or raise "
                             "fraiseql_cache.max_domains (now %d) and restart the server.",
                             settings.max_domains)));
        else
            ereport(WARNING,
                    (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                     errmsg("pg_fraiseql_cache: %llu version updates did not fit in shared memory",
                            (unsigned long long)refused),
                     errdetail("They are answered from fraiseql_cache.domain_version, more slowly."),
                     errhint("Raise fraiseql_cache.max_entries (now %d) and restart the server.",
                             settings.max_entries)));
    });
    return false;
}

// Domain floors raised with the batch, and global domains' floors following
// their one version.
void Worker::publish_floors(const plan::Outcome &outcome) {
    for (const auto *floors : {&outcome.new_floors, &outcome.quiet_floors})
        for (const persistence::VersionRow &f : *floors)
            domains_.raise_floor(domains_.intern(f.domain), f.version);
}

void Worker::finish_batch(uint64_t end, uint64_t overflow_seen) {
    shared.ring.release(end);
    // Release stores: a backend that sees these values also sees the
    // versions stored above (see shared_state.hpp).
    atomics::store_release(&state_->overflow_served, overflow_seen);
    announce_published(end);
}

// Publishes ring positions below `end` and wakes the committers waiting for
// them, each through its own latch; the broadcast reaches the sessions that
// wait for the worker to load, or without a wait-board entry.
void Worker::announce_published(uint64_t end) {
    atomics::store_release(&state_->published, end);
    wake_committers();
    ConditionVariableBroadcast(&state_->publish_cv);
}

// Sets the latch of every committer whose position is published (or, for
// wait_for_bump = persisted, released from the ring).
void Worker::wake_committers() {
    shared.waiters.wake_due(atomics::load_acquire(&state_->published), shared.ring.tail(),
                            [](int procno) { SetLatch(&GetPGProcByNumber(procno)->procLatch); });
}

// Records the batch in v_recent_invalidations and the lag figures.
void Worker::remember(const plan::BatchPlan &batch,
                      const std::vector<persistence::VersionRow> &stored) {
    TimestampTz now = GetCurrentTimestamp();
    for (const persistence::VersionRow &r : stored) {
        RecentBump bump{};
        bump.at = now;
        bump.tenant = r.tenant;
        bump.domain = r.domain;
        bump.version = r.version;
        const PairSet::Slot *s = batch.find(r);
        bump.sources = s != nullptr ? s->tags : 0;
        bump.transactions = s != nullptr ? s->count : 0;
        shared.recent.push(bump);
    }
    if (batch.oldest_handoff() != 0) {
        int64_t lag = now - batch.oldest_handoff();
        Counters &c = state_->counters;
        atomics::store_relaxed(&c.last_batch_lag_us, lag);
        atomics::fetch_max(&c.max_batch_lag_us, lag);
    }
}

// Writes a committed batch's versions to the WAL for hot standbys (see
// standby.hpp), before they are published. The batch is committed: an error
// here must not make the restarted worker count it twice, so it is logged
// and standbys are told to read their tables again instead.
bool Worker::log_for_standbys(const plan::BatchPlan &batch,
                              const std::vector<persistence::VersionRow> &registrations,
                              const std::vector<persistence::VersionRow> &stored,
                              const plan::Outcome &outcome) {
    if (!standby::records_enabled())
        return true;
    try {
        if (standby_reload_due_) {
            standby::log_reload(MyDatabaseId);
            standby_reload_due_ = false;
        }
        standby::RecordWriter writer(MyDatabaseId, GetCurrentTimestamp(), batch.floor());
        if (batch.floor_moved())
            writer.floor_changed();
        for (const auto *rows : {&registrations, &stored})
            for (const persistence::VersionRow &r : *rows)
                writer.pair(r.domain, r.tenant, r.version);
        for (const auto *floors : {&outcome.new_floors, &outcome.quiet_floors})
            for (const persistence::VersionRow &f : *floors)
                writer.floor(f.domain, f.version);
        for (const auto &[domain, global] : batch.scope_changes())
            writer.scope(domains_.name(domain), global);
        writer.flush();
        // Flushed with the batch (before the next one, or when going idle), so
        // a standby does not wait for the WAL writer to see it.
        if (writer.end() > previous_batch_end_)
            previous_batch_end_ = writer.end();
        return true;
    } catch (const PgError &e) {
        // An insertion cut short leaves its state behind (outside a
        // transaction no abort resets it): the next record would fail.
        log_quietly([] { XLogResetInsertion(); });
        standby_reload_due_ = true;
        log_quietly([&] {
            ereport(LOG, (errmsg("pg_fraiseql_cache: versions not written for standbys: %s",
                                 e.data->message)));
            FreeErrorData(e.data);
        });
    } catch (const std::bad_alloc &) {
        standby_reload_due_ = true;
    }
    return false;
}

// Whether every row can be stored in shared memory now (its domain named
// there, its pair held or room for it within every bound).
bool Worker::fits(const std::vector<persistence::VersionRow> &rows) {
    uint64_t fresh = 0;
    std::unordered_map<Oid, uint64_t> fresh_of;
    for (const persistence::VersionRow &r : rows) {
        int32_t id = shared.domains.find(r.domain.bytes, r.domain.length());
        if (id == DomainDict::kNotFound)
            return false;
        uint64_t held = 0;
        if (shared.versions.lookup(uint32_t(id), r.tenant, &held))
            continue;
        // As may_store_new(), counting this batch's new pairs too.
        Oid bucket = InvalidOid;
        if (bounded_bucket(uint32_t(id), &bucket) &&
            entries_of_[bucket] + ++fresh_of[bucket] > uint64_t(settings.max_entries_per_role))
            return false;
        fresh++;
    }
    return fresh == 0 || shared.versions.count() + fresh <= shared.versions.max_entries();
}

// Read-your-writes without the worker's transaction on the path: a batch
// that only bumps pairs shared memory holds (or has room for) is published
// before it is persisted, and its committers wake at once. The crash rule is
// unchanged: batch N-1 is flushed before batch N becomes visible, so nothing
// visible is more than one batch ahead of what is durable. Its ring
// positions are released only once it is committed: a worker that dies with
// an ERROR in between leaves them below `published`, and the next worker
// persists and announces them without stepping them again (step()).
// domain_version catches up when the batch's transaction commits. The
// standby record goes first, so that a returned commit's bump is in the WAL
// before COMMIT returns, as it is for a batch persisted first: a standby
// that replayed past the commit's return has its bump too.
bool Worker::publish_early(const plan::BatchPlan &batch,
                           const std::vector<persistence::VersionRow> &rows,
                           const plan::Outcome &outcome, uint64_t end, bool first_of_group) {
    if (!fits(rows))
        return false;
    // The group's earlier batches are not committed: nothing of theirs to
    // flush (the crash rule counts the group's slots as one batch's).
    if (first_of_group)
        flush_previous_batch();
    if (!log_for_standbys(batch, {}, rows, outcome))
        return false;
    // Above the batch's commits and its standby record: what its
    // notifications will carry (persist_group()).
    published_lsn_ = pg_call([] { return GetXLogInsertRecPtr(); });
    publish(rows);
    publish_floors(outcome);
    remember(batch, rows);
    announce_published(end);
    return true;
}

// A committed batch becomes visible to every session. Pair versions first,
// then domain floors, then scope flags: a reader that sees a domain turn
// tenant-scoped again already sees its raised floor, one that sees it turn
// global already sees its raised all-tenants version.
void Worker::publish_batch(const plan::BatchPlan &batch,
                           const std::vector<persistence::VersionRow> &registrations,
                           const std::vector<persistence::VersionRow> &stored,
                           const plan::Outcome &outcome) {
    atomics::store_release(&state_->floor, batch.floor());
    publish(registrations);
    publish(stored);
    publish_floors(outcome);
    for (const auto &[domain, global] : batch.scope_changes())
        domains_.set_global(domain, global);
}

}  // namespace fraiseql_cache
