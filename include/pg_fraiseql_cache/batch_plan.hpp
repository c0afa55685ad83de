// The worker's batch planner: ring slots in, new versions out.
//
// Pure code (no server headers), so every rule of how a batch turns into
// versions is unit-tested without a server (tests/unit/batch_plan_test.cpp).
// The worker (worker.cpp) is the glue around it: it drains the ring into a
// plan, reads from the tables what the plan asks for (a whole domain's
// tenants, scopes, every pair for a reset), persists what the plan
// proposes, and publishes what the plan derives from what was stored.
//
// What a version counts. A pair's version goes up by the number of committed
// transactions that changed it (I4: each transaction counts once per pair,
// whatever its row count; the all-tenants pair counts each transaction once
// per domain), by one for a bump that comes only from a cascade, TRUNCATE,
// invalidate_domain() or a reset. A batch coalesces its transactions into one
// step per pair, so no batch raises a pair by more than kMaxStep.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pg_fraiseql_cache/cascade.hpp"
#include "pg_fraiseql_cache/notify.hpp"
#include "pg_fraiseql_cache/pair.hpp"
#include "pg_fraiseql_cache/pair_set.hpp"
#include "pg_fraiseql_cache/persistence.hpp"
#include "pg_fraiseql_cache/ring.hpp"

namespace fraiseql_cache::plan {

// Largest number of ring slots taken into one batch.
constexpr uint64_t kMaxBatchSlots = 16384;
// Largest step of one pair in one batch: a transaction per slot, plus one
// for a reset.
constexpr uint64_t kMaxStep = kMaxBatchSlots + 1;
// How many batches publication may run ahead of the flushed WAL.
constexpr uint64_t kBatchesAhead = 1;
// After an unclean stop every version rises by this: past anything
// published but perhaps not durable (I3).
constexpr uint64_t kCrashRaise = kBatchesAhead * kMaxStep + 1;

// A domain as the worker names it: an entry of the shared dictionary, or of
// the worker's own list of names the full dictionary could not take.
struct DomainRef {
    uint32_t index;
    bool spilled;

    static DomainRef in_dictionary(uint32_t i) { return DomainRef{i, false}; }
    static DomainRef in_spill_list(uint32_t i) { return DomainRef{i, true}; }
    // The key a PairSet holds it under (bit 31: spilled).
    uint32_t key() const { return spilled ? kSpillBit | index : index; }
    static DomainRef from_key(uint32_t key) {
        return DomainRef{key & ~kSpillBit, (key & kSpillBit) != 0};
    }
    friend bool operator==(DomainRef a, DomainRef b) {
        return a.index == b.index && a.spilled == b.spilled;
    }

  private:
    static constexpr uint32_t kSpillBit = 1u << 31;
};

// What the planner needs to know of the domains and of the versions readers
// see now (the worker answers from shared memory).
class DomainView {
  public:
    // The domain's ref, entering it in the dictionary (or the spill list).
    virtual DomainRef intern(const DomainName &name) = 0;
    virtual const DomainName &name(DomainRef d) const = 0;
    // One version for all tenants. Never true of a spilled domain.
    virtual bool global(DomainRef d) const = 0;
    // The domain's floor (0 for a spilled domain).
    virtual uint64_t domain_floor(DomainRef d) const = 0;
    // The version readers see for the pair now.
    virtual uint64_t version(DomainRef d, const TenantId &tenant) const = 0;

  protected:
    ~DomainView() = default;
};

// cascade_rules over names: its own ids, so 10,000 rules do not fill the
// shared dictionary (only domains a bump reaches enter it).
class CascadeRules {
  public:
    void assign(const std::vector<persistence::RuleRow> &rows);
    bool empty() const { return graph_.empty(); }
    // Domains reached from `source` (nullptr: none), as rule ids.
    const std::vector<Reached> *closure(const DomainName &source);
    const DomainName &name(uint32_t rule_id) const { return names_[rule_id]; }

  private:
    CascadeGraph graph_;
    std::unordered_map<std::string, uint32_t> ids_;
    std::vector<DomainName> names_;
};

// What the worker publishes besides the pair versions, derived from what
// was stored (finish()).
struct Outcome {
    // Domain floors raised with the batch (announced with the all-tenants pair).
    std::vector<persistence::VersionRow> new_floors;
    // A global domain's floor following its one version (not announced).
    std::vector<persistence::VersionRow> quiet_floors;
    // The stored rows' announcements, then those of notify-only targets.
    std::vector<notify::Announcement> announcements;
};

// Batches published before they are persisted (pairs only), persisted in
// one transaction: one row per pair at its latest version with the steps
// summed (so the upsert moves each row from what it held before the group),
// one quiet floor per domain, and every batch's announcements as they are,
// each with the position of its batch's publication: a client on a replica
// applies a version once the replica has replayed its batch, so no version
// in between may be left out.
class PersistGroup {
  public:
    // `lsn`: the WAL position at the batch's publication, announced with
    // its versions (a standby that replayed it has the batch's data).
    void add(const std::vector<persistence::VersionRow> &rows, const Outcome &outcome,
             uint64_t lsn);
    const std::vector<persistence::VersionRow> &rows() const { return rows_; }
    const std::vector<persistence::VersionRow> &quiet_floors() const { return quiet_; }
    const std::vector<notify::Announcement> &announcements() const { return announcements_; }
    std::size_t batches() const { return batches_; }

  private:
    static std::string key(const DomainName &domain, const TenantId &tenant);
    void merge(const std::vector<persistence::VersionRow> &rows);
    std::vector<persistence::VersionRow> rows_;
    std::unordered_map<std::string, std::size_t> row_at_;
    std::vector<notify::Announcement> announcements_;
    std::vector<persistence::VersionRow> quiet_;
    std::unordered_map<std::string, std::size_t> quiet_at_;
    std::size_t batches_ = 0;
};

class BatchPlan {
  public:
    // `floor`: the version of a pair never bumped, as published.
    BatchPlan(DomainView &domains, uint64_t floor);

    // ---- drain: one ring slot of this database at a time ------------------
    void add_slot(const RingSlot &slot);
    // The oldest hand-off time of the slots taken (0: none).
    int64_t oldest_handoff() const { return oldest_; }

    // ---- what the tables must answer --------------------------------------
    // Domains bumped whole (TRUNCATE, invalidate_domain()): their tenants.
    const std::vector<DomainName> &whole_domains() const { return whole_names_; }
    void add_tenants_of_whole_domains(const std::vector<persistence::VersionRow> &tenants);
    // Domains whose scope may have changed (a registration): read_scopes().
    const std::vector<DomainName> &registered() const { return registered_; }
    // Applies tracked_tables' answer; returns the new domains' all-tenants
    // rows, to be inserted (insert_missing()) and published.
    std::vector<persistence::VersionRow> apply_scopes(
        const std::vector<persistence::DomainScope> &scopes);
    // Overflow, or rules that could not be read: bump every persisted pair,
    // and the floor above every domain floor (persisted or in `shared_floor`).
    void reset(const std::vector<persistence::VersionRow> &persisted,
               const std::vector<persistence::VersionRow> &persisted_floors,
               uint64_t highest_shared_floor);
    // Adds every pair reachable through the rules.
    void expand_cascades(CascadeRules &rules);

    // ---- out ----------------------------------------------------------------
    // One row per pair: version = what readers see (at least the floor and
    // any lift) + step. `replay`: the batch was published already (its
    // worker died before persisting it): step 0, the versions stay.
    std::vector<persistence::VersionRow> proposed(bool replay = false) const;
    // Floors and announcements, given what upsert() stored.
    Outcome finish(const std::vector<persistence::VersionRow> &stored) const;

    // Whether the batch only bumps pairs: no whole domain, registration,
    // reset or scope change (what the worker may publish before persisting).
    bool pairs_only() const {
        return whole_names_.empty() && registered_.empty() && !reset_ && scope_changes_.empty();
    }
    uint64_t floor() const { return floor_; }
    bool floor_moved() const { return reset_; }
    const std::vector<std::pair<DomainRef, bool>> &scope_changes() const {
        return scope_changes_;
    }
    // The pair's coalesced slot (transactions, BumpSource bits), or nullptr.
    const PairSet::Slot *find(const persistence::VersionRow &row) const;
    std::size_t size() const { return pairs_.size(); }
    uint64_t cascaded() const { return cascaded_; }

  private:
    DomainView &domains_;
    uint64_t floor_;
    bool reset_ = false;
    PairSet pairs_{1024};  // pair -> (transactions coalesced, BumpSource bits)
    std::vector<std::pair<DomainName, uint32_t>> whole_domains_;
    std::vector<DomainName> whole_names_;
    std::vector<DomainName> registered_;
    int64_t oldest_ = 0;
    // Domains whose floor rises with this batch, so that tenants with no
    // version of their own move too: by one for a whole-domain bump (known
    // tenants are bumped one by one), to the all-tenants version for a
    // domain that stops being global.
    PairSet floor_domains_{16};
    PairSet floor_to_all_{16};
    // Pairs that must end above a given value (a scope change).
    std::vector<std::pair<PairKey, uint64_t>> lifts_;
    std::vector<std::pair<DomainRef, bool>> scope_changes_;  // (domain, now global)
    std::vector<PairKey> notify_only_;
    uint64_t cascaded_ = 0;
};

}  // namespace fraiseql_cache::plan
