// The background worker (one per served database): its loop and the
// phases of a batch (worker.cpp), shared-memory publication
// (worker_publication.cpp), its entry point (worker_main.cpp).
#pragma once

#include <unordered_map>
#include <utility>
#include <vector>

#include "pg_fraiseql_cache/batch_plan.hpp"
#include "pg_fraiseql_cache/boundary.hpp"
#include "pg_fraiseql_cache/persistence.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"
#include "pg_fraiseql_cache/worker_domains.hpp"

extern "C" {
#include "access/xlogdefs.h"
}

namespace fraiseql_cache {

// Writes a log line; a failure to (out of memory) is dropped rather than
// raised: the spill warning comes between a batch's commit and its
// publication, where an error would make the restarted worker count the
// batch twice.
template <typename F>
void log_quietly(F &&fn) noexcept {
    try {
        pg_call(std::forward<F>(fn));
    } catch (...) {
    }
}

class Worker {
  public:
    void run();
    bool extension_gone() const { return extension_gone_; }

  private:
    // The phases of a batch (step()).
    bool step();
    bool ensure_loaded();
    uint64_t drain(plan::BatchPlan &batch, uint64_t start, uint64_t limit);
    bool still_installed();
    void read_for_plan(plan::BatchPlan &batch, bool reset, bool rules_known,
                       std::vector<persistence::VersionRow> *registrations);
    bool fits(const std::vector<persistence::VersionRow> &rows);
    bool may_publish_early(const plan::BatchPlan &batch) const;
    static void stamp(std::vector<persistence::VersionRow> &rows);
    bool publish_early(const plan::BatchPlan &batch,
                       const std::vector<persistence::VersionRow> &rows,
                       const plan::Outcome &outcome, uint64_t end, bool first_of_group);
    bool group_may_grow(uint64_t rules_generation) const;
    bool next_batch_arrives(uint64_t end, TimestampTz opened);
    void note_handoff(int64_t handoff);
    int64_t last_handoff_ = 0;  // TimestampTz of the last batch's oldest commit
    bool commits_streaming_ = false;
    bool persist_group(const plan::BatchPlan &first,
                       const std::vector<persistence::VersionRow> &rows,
                       const plan::Outcome &outcome, uint64_t start, uint64_t end,
                       uint64_t rules_generation);
    void publish_batch(const plan::BatchPlan &batch,
                       const std::vector<persistence::VersionRow> &registrations,
                       const std::vector<persistence::VersionRow> &stored,
                       const plan::Outcome &outcome);
    void finish_batch(uint64_t end, uint64_t overflow_seen);
    void announce_published(uint64_t end);
    void wake_committers();

    bool load();
    void mark_unclean_once();
    void discard_ring();
    void idle_check();
    // Stores rows in shared memory; `only_raise`: only those above what it holds.
    // Returns false when some did not fit.
    bool publish(const std::vector<persistence::VersionRow> &rows, bool only_raise = false);
    void publish_floors(const plan::Outcome &outcome);
    bool refresh_rules(uint64_t rules_generation, uint32_t rules_inflight);
    void remember(const plan::BatchPlan &batch, const std::vector<persistence::VersionRow> &stored);
    bool log_for_standbys(const plan::BatchPlan &batch,
                          const std::vector<persistence::VersionRow> &registrations,
                          const std::vector<persistence::VersionRow> &stored,
                          const plan::Outcome &outcome);
    bool standby_reload_due_ = false;
    bool extension_gone_ = false;
    bool leaving() const {
        return extension_gone_ || atomics::load_acquire(&state_->step_aside) != 0;
    }

    long heartbeat();
    void flush_previous_batch();
    void flush_now();

    SharedState *state_ = shared.state;
    WorkerDomains domains_;
    XLogRecPtr previous_batch_end_ = InvalidXLogRecPtr;
    XLogRecPtr published_lsn_ = InvalidXLogRecPtr;  // at the last early publication
    TimestampTz last_heartbeat_ = 0;
    TimestampTz last_spill_warning_ = 0;
    uint64_t refused_since_warning_ = 0;
    uint64_t spilled_for_domains_ = 0;
    bool marked_unclean_ = false;
    // Who owns each domain (dictionary id -> role OID; absent: no owner, 0:
    // a superuser) and how many shared-memory pairs each role's domains
    // hold, for max_entries_per_role.
    std::unordered_map<uint32_t, Oid> owner_of_;
    std::unordered_map<Oid, uint64_t> entries_of_;
    void load_owners();
    bool may_store_new(uint32_t id, Oid *bucket);
    bool bounded_bucket(uint32_t id, Oid *bucket) const;
    uint64_t refused_for_role_ = 0;
    DomainName refused_domain_{};  // a domain whose owner's bound refused pairs
    // cascade_rules as of rules_generation_ (see refresh_rules()).
    plan::CascadeRules rules_;
    bool rules_cached_ = false;
    bool rules_read_clean_ = false;  // read while no rule change was in flight
    uint64_t rules_generation_ = 0;
};


// Registers the relcache callback through which the worker notices DROP
// EXTENSION (domain_version dropped).
void watch_extension_changes();

}  // namespace fraiseql_cache
