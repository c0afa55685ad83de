// The batch planner without a server: a fake view of the domains stands in
// for shared memory.
#include "pg_fraiseql_cache/batch_plan.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "pg_fraiseql_cache/recent_ring.hpp"

namespace fraiseql_cache::plan {
namespace {

using persistence::DomainScope;
using persistence::RuleRow;
using persistence::VersionRow;

DomainName name_of(const std::string &s) {
    DomainName d{};
    EXPECT_TRUE(DomainName::from(s.data(), s.size(), &d));
    return d;
}

TenantId tenant(uint8_t n) {
    TenantId t{};
    t.bytes[15] = n;
    return t;
}

// A dictionary of `capacity` names (more spill), versions held per pair.
class FakeDomains final : public DomainView {
  public:
    explicit FakeDomains(uint64_t floor, std::size_t capacity = 100)
        : floor_(floor), capacity_(capacity) {}

    DomainRef intern(const DomainName &n) override {
        for (std::size_t i = 0; i < names_.size(); i++)
            if (std::string(names_[i].bytes) == n.bytes)
                return refs_[i];
        std::size_t in_dict = 0;
        for (const DomainRef &r : refs_)
            in_dict += r.spilled ? 0 : 1;
        DomainRef r = in_dict < capacity_ ? DomainRef::in_dictionary(uint32_t(in_dict))
                                          : DomainRef::in_spill_list(uint32_t(names_.size()));
        names_.push_back(n);
        refs_.push_back(r);
        return r;
    }
    const DomainName &name(DomainRef d) const override {
        for (std::size_t i = 0; i < refs_.size(); i++)
            if (refs_[i] == d)
                return names_[i];
        ADD_FAILURE() << "unknown domain ref";
        return names_.front();
    }
    bool global(DomainRef d) const override { return !d.spilled && globals_.count(key(d)) != 0; }
    uint64_t domain_floor(DomainRef d) const override {
        auto it = floors_.find(key(d));
        return d.spilled || it == floors_.end() ? 0 : it->second;
    }
    uint64_t version(DomainRef d, const TenantId &t) const override {
        uint64_t f = domain_floor(d);
        auto it = held_.find({key(d), t.bytes[15]});
        uint64_t v = it == held_.end() ? floor_ : it->second;
        return std::max(v, f);
    }

    void hold(const std::string &domain, uint8_t t, uint64_t v) {
        held_[{key(intern(name_of(domain))), t}] = v;
    }
    void make_global(const std::string &domain) { globals_[key(intern(name_of(domain)))] = 1; }
    void set_floor(const std::string &domain, uint64_t f) {
        floors_[key(intern(name_of(domain)))] = f;
    }

  private:
    static uint32_t key(DomainRef d) { return d.key(); }
    uint64_t floor_;
    std::size_t capacity_;
    std::vector<DomainName> names_;
    std::vector<DomainRef> refs_;
    std::map<std::pair<uint32_t, uint8_t>, uint64_t> held_;
    std::map<uint32_t, int> globals_;
    std::map<uint32_t, uint64_t> floors_;
};

RingSlot slot(const std::string &domain, const TenantId &t, uint32_t flags,
              int64_t committed_at = 1) {
    RingSlot s{};
    s.committed_at = committed_at;
    s.flags = flags;
    s.tenant = t;
    s.domain = name_of(domain);
    return s;
}

// (tenant byte, domain) -> proposed version.
std::map<std::pair<uint8_t, std::string>, uint64_t> by_pair(const std::vector<VersionRow> &rows) {
    std::map<std::pair<uint8_t, std::string>, uint64_t> out;
    for (const VersionRow &r : rows) {
        EXPECT_EQ(out.count({r.tenant.bytes[15], r.domain.bytes}), 0u) << "pair proposed twice";
        out[{r.tenant.bytes[15], r.domain.bytes}] = r.version;
    }
    return out;
}

// The proposed version of a pair (0: not proposed).
uint64_t at(const std::map<std::pair<uint8_t, std::string>, uint64_t> &v, uint8_t t,
            const std::string &domain) {
    auto it = v.find({t, domain});
    return it == v.end() ? 0 : it->second;
}

constexpr uint8_t kAll = 0;

TEST(BatchPlan, EachTransactionCountsOncePerPairAndOncePerDomainForAll) {
    FakeDomains domains(100);
    domains.hold("contract", 1, 500);
    BatchPlan batch(domains, 100);
    // Three transactions touch tenant 1, one touches tenant 2; the backend
    // marks one slot per transaction per domain to count for (all, d).
    batch.add_slot(slot("contract", tenant(1), kSlotCountsForAll));
    batch.add_slot(slot("contract", tenant(1), kSlotCountsForAll));
    batch.add_slot(slot("contract", tenant(1), 0));  // same transaction as another slot
    batch.add_slot(slot("contract", tenant(2), kSlotCountsForAll));
    auto v = by_pair(batch.proposed());
    EXPECT_EQ(v.size(), 3u);
    EXPECT_EQ(at(v, 1, "contract"), 503u);  // three slots
    EXPECT_EQ(at(v, 2, "contract"), 101u);  // from the floor
    EXPECT_EQ(at(v, kAll, "contract"), 103u);
    EXPECT_TRUE(batch.pairs_only());
}

TEST(BatchPlan, ReplayKeepsVersionsAsPublished) {
    FakeDomains domains(100);
    domains.hold("contract", 1, 500);
    BatchPlan batch(domains, 100);
    batch.add_slot(slot("contract", tenant(1), kSlotCountsForAll));
    auto v = by_pair(batch.proposed(true));
    EXPECT_EQ(at(v, 1, "contract"), 500u);
    EXPECT_EQ(at(v, kAll, "contract"), 100u);
    for (const VersionRow &r : batch.proposed(true))
        EXPECT_EQ(r.step, 0u);
}

TEST(BatchPlan, OldestHandoffIsTheEarliestSlot) {
    FakeDomains domains(1);
    BatchPlan batch(domains, 1);
    EXPECT_EQ(batch.oldest_handoff(), 0);
    batch.add_slot(slot("a", tenant(1), 0, 50));
    batch.add_slot(slot("a", tenant(2), 0, 20));
    batch.add_slot(slot("a", tenant(3), 0, 70));
    EXPECT_EQ(batch.oldest_handoff(), 20);
}

TEST(BatchPlan, ManualAndTriggerSourcesAreKept) {
    FakeDomains domains(1);
    BatchPlan batch(domains, 1);
    batch.add_slot(slot("a", tenant(1), kSlotManual));
    batch.add_slot(slot("a", tenant(1), 0));
    VersionRow row{};
    row.tenant = tenant(1);
    row.domain = name_of("a");
    const PairSet::Slot *s = batch.find(row);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->count, 2u);
    EXPECT_EQ(s->tags, uint32_t(kSourceManual | kSourceTrigger));
}

TEST(BatchPlan, WholeDomainBumpsEveryTenantOnceAndRaisesTheFloor) {
    FakeDomains domains(100);
    domains.hold("item", 1, 300);
    domains.hold("item", 2, 400);
    domains.set_floor("item", 150);
    BatchPlan batch(domains, 100);
    batch.add_slot(slot("item", TenantId::all(), kSlotWholeDomain | kSlotCountsForAll));
    batch.add_slot(slot("item", tenant(1), kSlotCountsForAll));
    ASSERT_EQ(batch.whole_domains().size(), 1u);
    EXPECT_FALSE(batch.pairs_only());
    std::vector<VersionRow> tenants(2);
    tenants[0].tenant = tenant(1);
    tenants[0].domain = name_of("item");
    tenants[1].tenant = tenant(2);
    tenants[1].domain = name_of("item");
    batch.add_tenants_of_whole_domains(tenants);
    std::vector<VersionRow> proposed = batch.proposed();
    auto v = by_pair(proposed);
    EXPECT_EQ(at(v, 1, "item"), 301u);  // its own transaction; the TRUNCATE adds no second step
    EXPECT_EQ(at(v, 2, "item"), 401u);
    EXPECT_EQ(at(v, kAll, "item"), 152u);  // two transactions, above the domain floor
    Outcome out = batch.finish(proposed);
    ASSERT_EQ(out.new_floors.size(), 1u);
    EXPECT_EQ(out.new_floors[0].version, 151u);  // max(batch floor, domain floor) + 1
    EXPECT_TRUE(out.quiet_floors.empty());
    uint64_t announced_floor = 0;
    for (const notify::Announcement &a : out.announcements)
        if (a.tenant.is_all())
            announced_floor = a.domain_floor;
    EXPECT_EQ(announced_floor, 151u);
}

TEST(BatchPlan, ResetBumpsEveryPairAndLiftsTheFloorAboveEveryDomainFloor) {
    FakeDomains domains(100);
    domains.hold("a", 1, 200);
    BatchPlan batch(domains, 100);
    std::vector<VersionRow> persisted(2);
    persisted[0].tenant = tenant(1);
    persisted[0].domain = name_of("a");
    persisted[1].tenant = tenant(2);
    persisted[1].domain = name_of("b");
    std::vector<VersionRow> floors(1);
    floors[0].domain = name_of("b");
    floors[0].version = 900;
    batch.reset(persisted, floors, 950);
    EXPECT_EQ(batch.floor(), 951u);
    EXPECT_TRUE(batch.floor_moved());
    EXPECT_FALSE(batch.pairs_only());
    auto v = by_pair(batch.proposed());
    EXPECT_EQ(at(v, 1, "a"), 952u);  // every pair ends above the new floor
    EXPECT_EQ(at(v, 2, "b"), 952u);
}

TEST(BatchPlan, NoStepExceedsKMaxStep) {
    FakeDomains domains(0);
    BatchPlan batch(domains, 0);
    for (uint64_t i = 0; i < kMaxBatchSlots; i++)
        batch.add_slot(slot("hot", tenant(1), kSlotCountsForAll));
    std::vector<VersionRow> persisted(1);
    persisted[0].tenant = tenant(1);
    persisted[0].domain = name_of("hot");
    batch.reset(persisted, {}, 0);
    for (const VersionRow &r : batch.proposed()) {
        EXPECT_LE(r.step, kMaxStep);
        // Counted from the reset floor: the floor's one plus every transaction.
        EXPECT_LE(r.version, kMaxStep);
    }
    // What a crash may have lost is below the raise.
    EXPECT_GT(kCrashRaise, kBatchesAhead * kMaxStep);
}

TEST(BatchPlan, CascadesReachTransitivelyAndNotifyOnlyTargetsAreAnnounced) {
    FakeDomains domains(10);
    domains.hold("order", 1, 40);
    CascadeRules rules;
    rules.assign({RuleRow{name_of("contract"), name_of("order"), true},
                  RuleRow{name_of("order"), name_of("invoice"), true},
                  RuleRow{name_of("order"), name_of("audit"), false},
                  RuleRow{name_of("invoice"), name_of("contract"), true}});  // a cycle
    BatchPlan batch(domains, 10);
    batch.add_slot(slot("contract", tenant(1), kSlotCountsForAll));
    batch.expand_cascades(rules);
    std::vector<VersionRow> proposed = batch.proposed();
    auto v = by_pair(proposed);
    EXPECT_EQ(at(v, 1, "contract"), 11u);
    EXPECT_EQ(at(v, 1, "order"), 41u);  // a cascade alone steps by one
    EXPECT_EQ(at(v, 1, "invoice"), 11u);
    EXPECT_EQ(at(v, kAll, "order"), 11u);
    EXPECT_EQ(v.count(std::make_pair(uint8_t(1), std::string("audit"))), 0u);
    EXPECT_EQ(batch.cascaded(), 2u);
    Outcome out = batch.finish(proposed);
    int audit = 0;
    for (const notify::Announcement &a : out.announcements)
        if (std::string(a.domain.bytes) == "audit") {
            audit++;
            EXPECT_EQ(a.version, 10u);  // its current version, not bumped
        }
    EXPECT_EQ(audit, 2);  // tenant 1's pair and the all-tenants pair
    EXPECT_EQ(out.announcements.size(), proposed.size() + 2);
}

TEST(BatchPlan, ANotifyOnlyTargetThatIsAlsoBumpedIsAnnouncedOnce) {
    FakeDomains domains(10);
    CascadeRules rules;
    rules.assign({RuleRow{name_of("a"), name_of("b"), false}});
    BatchPlan batch(domains, 10);
    batch.add_slot(slot("a", tenant(1), kSlotCountsForAll));
    batch.add_slot(slot("b", tenant(1), kSlotCountsForAll));
    batch.expand_cascades(rules);
    std::vector<VersionRow> proposed = batch.proposed();
    EXPECT_EQ(batch.finish(proposed).announcements.size(), proposed.size());
}

TEST(BatchPlan, AGlobalCascadeTargetUsesTheAllTenantsPair) {
    FakeDomains domains(10);
    domains.make_global("country");
    CascadeRules rules;
    rules.assign({RuleRow{name_of("contract"), name_of("country"), true}});
    BatchPlan batch(domains, 10);
    batch.add_slot(slot("contract", tenant(3), kSlotCountsForAll));
    batch.expand_cascades(rules);
    std::vector<VersionRow> proposed = batch.proposed();
    auto v = by_pair(proposed);
    EXPECT_EQ(v.count(std::make_pair(uint8_t(3), std::string("country"))), 0u);
    EXPECT_EQ(at(v, kAll, "country"), 11u);
    // A global domain's floor follows its one version, quietly.
    Outcome out = batch.finish(proposed);
    ASSERT_EQ(out.quiet_floors.size(), 1u);
    EXPECT_EQ(std::string(out.quiet_floors[0].domain.bytes), "country");
    EXPECT_EQ(out.quiet_floors[0].version, 11u);
    EXPECT_TRUE(out.new_floors.empty());
}

TEST(BatchPlan, ADomainTurningGlobalEndsAboveEveryVersionItsTenantsRead) {
    FakeDomains domains(10);
    BatchPlan batch(domains, 10);
    batch.add_slot(slot("country", TenantId::all(), kSlotRegister));
    ASSERT_EQ(batch.registered().size(), 1u);
    EXPECT_FALSE(batch.pairs_only());
    std::vector<VersionRow> rows =
        batch.apply_scopes({DomainScope{name_of("country"), true, true, true, 777}});
    EXPECT_TRUE(rows.empty());
    ASSERT_EQ(batch.scope_changes().size(), 1u);
    EXPECT_TRUE(batch.scope_changes()[0].second);
    auto v = by_pair(batch.proposed());
    EXPECT_EQ(at(v, kAll, "country"), 778u);
}

TEST(BatchPlan, ADomainTurningTenantScopedRaisesItsFloorToItsOneVersion) {
    FakeDomains domains(10);
    domains.make_global("country");
    domains.hold("country", kAll, 60);
    BatchPlan batch(domains, 10);
    batch.add_slot(slot("country", TenantId::all(), kSlotRegister));
    batch.apply_scopes({DomainScope{name_of("country"), true, false, true, 60}});
    std::vector<VersionRow> proposed = batch.proposed();
    auto v = by_pair(proposed);
    EXPECT_EQ(at(v, kAll, "country"), 61u);
    Outcome out = batch.finish(proposed);
    ASSERT_EQ(out.new_floors.size(), 1u);
    EXPECT_EQ(out.new_floors[0].version, 61u);  // tenants read at least the last one version
    ASSERT_EQ(batch.scope_changes().size(), 1u);
    EXPECT_FALSE(batch.scope_changes()[0].second);
}

TEST(BatchPlan, ANewTrackedDomainGetsItsAllTenantsRowAtTheVersionReadersSee) {
    FakeDomains domains(42);
    BatchPlan batch(domains, 42);
    batch.add_slot(slot("fresh", TenantId::all(), kSlotRegister));
    std::vector<VersionRow> rows =
        batch.apply_scopes({DomainScope{name_of("fresh"), true, false, false, 0}});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_TRUE(rows[0].tenant.is_all());
    EXPECT_EQ(rows[0].version, 42u);
    EXPECT_TRUE(batch.proposed().empty());  // a registration bumps nothing by itself
}

TEST(BatchPlan, AGlobalWriteBeforeItsRegistrationRereadsTheScope) {
    FakeDomains domains(1);
    BatchPlan batch(domains, 1);
    batch.add_slot(slot("country", TenantId::all(), kSlotGlobal | kSlotCountsForAll));
    ASSERT_EQ(batch.registered().size(), 1u);
    EXPECT_EQ(std::string(batch.registered()[0].bytes), "country");
}

TEST(BatchPlan, SpilledDomainsAreNeverGlobalAndHaveNoFloorOfTheirOwn) {
    FakeDomains domains(5, 1);  // room for one name
    BatchPlan batch(domains, 5);
    batch.add_slot(slot("first", tenant(1), kSlotCountsForAll));
    batch.add_slot(slot("second", tenant(1), kSlotCountsForAll | kSlotWholeDomain));
    batch.add_slot(slot("second", tenant(2), kSlotCountsForAll));
    DomainRef second = domains.intern(name_of("second"));
    EXPECT_TRUE(second.spilled);
    EXPECT_EQ(DomainRef::from_key(second.key()), second);
    std::vector<VersionRow> proposed = batch.proposed();
    Outcome out = batch.finish(proposed);
    ASSERT_EQ(out.new_floors.size(), 1u);
    // A spilled domain keeps no floor in shared memory: its floor is its
    // all-tenants version (two transactions above the batch floor).
    EXPECT_EQ(out.new_floors[0].version, 7u);
}

TEST(DomainRef, KeysOfTheTwoSpacesNeverMeet) {
    EXPECT_NE(DomainRef::in_dictionary(7).key(), DomainRef::in_spill_list(7).key());
    EXPECT_EQ(DomainRef::from_key(DomainRef::in_spill_list(7).key()).index, 7u);
    EXPECT_FALSE(DomainRef::from_key(DomainRef::in_dictionary(7).key()).spilled);
}

}  // namespace
}  // namespace fraiseql_cache::plan

namespace fraiseql_cache::plan {
namespace {

TEST(PersistGroup, OneRowPerPairAtItsLatestVersionWithTheStepsSummed) {
    FakeDomains domains(100);
    domains.hold("a", 1, 500);
    PersistGroup group;
    BatchPlan first(domains, 100);
    first.add_slot(slot("a", tenant(1), kSlotCountsForAll));
    first.add_slot(slot("b", tenant(3), kSlotCountsForAll));
    std::vector<VersionRow> rows1 = first.proposed();
    group.add(rows1, first.finish(rows1), 1000);
    // Published: the next batch plans from what the first one published.
    domains.hold("a", 1, 501);
    domains.hold("a", kAll, 101);
    BatchPlan second(domains, 100);
    second.add_slot(slot("a", tenant(1), kSlotCountsForAll));
    second.add_slot(slot("a", tenant(2), kSlotCountsForAll));
    std::vector<VersionRow> rows2 = second.proposed();
    group.add(rows2, second.finish(rows2), 2000);
    EXPECT_EQ(group.batches(), 2u);
    ASSERT_EQ(group.rows().size(), 5u);
    for (const VersionRow &r : group.rows()) {
        if (std::string(r.domain.bytes) == "b") {
            EXPECT_EQ(r.step, 1u);
        } else if (r.tenant == tenant(1)) {
            EXPECT_EQ(r.version, 502u);
            EXPECT_EQ(r.step, 2u);  // version - step = what the table held before the group
        } else if (r.tenant.is_all()) {
            EXPECT_EQ(r.version, 103u);
            EXPECT_EQ(r.step, 3u);
        } else {
            EXPECT_EQ(r.version, 101u);
            EXPECT_EQ(r.step, 1u);
        }
    }
    // Every batch's announcements, each with its batch's position: a replica
    // client applies each version once its batch is replayed.
    ASSERT_EQ(group.announcements().size(), 7u);
    for (std::size_t i = 0; i < group.announcements().size(); i++)
        EXPECT_EQ(group.announcements()[i].lsn, i < 4 ? 1000u : 2000u) << i;
    uint64_t t1_versions = 0;
    for (const notify::Announcement &a : group.announcements())
        if (a.tenant == tenant(1))
            t1_versions = t1_versions * 1000 + a.version;
    EXPECT_EQ(t1_versions, 501u * 1000 + 502u);  // 501 then 502: none left out
}

TEST(PersistGroup, NotifyOnlyTargetsAreAnnouncedWithTheirBatch) {
    FakeDomains domains(10);
    CascadeRules rules;
    rules.assign({RuleRow{name_of("a"), name_of("watch"), false}});
    PersistGroup group;
    for (uint64_t lsn : {100u, 200u}) {
        BatchPlan b(domains, 10);
        b.add_slot(slot("a", tenant(1), kSlotCountsForAll));
        b.expand_cascades(rules);
        std::vector<VersionRow> rows = b.proposed();
        group.add(rows, b.finish(rows), lsn);
    }
    int watch = 0;
    for (const notify::Announcement &a : group.announcements())
        if (std::string(a.domain.bytes) == "watch") {
            watch++;
            EXPECT_EQ(a.version, 10u);  // announced, not bumped
        }
    EXPECT_EQ(watch, 4);  // (1, watch) and (all, watch) with each batch
    EXPECT_EQ(group.rows().size(), 2u);  // only the bumped pairs are persisted
}

TEST(PersistGroup, OneQuietFloorPerDomainAtTheHighestVersion) {
    FakeDomains domains(10);
    domains.make_global("country");
    PersistGroup group;
    for (uint64_t held : {10u, 11u}) {
        domains.hold("country", kAll, held);
        BatchPlan b(domains, 10);
        b.add_slot(slot("country", TenantId::all(), kSlotGlobal | kSlotCountsForAll));
        std::vector<VersionRow> rows = b.proposed();
        group.add(rows, b.finish(rows), 0);
    }
    ASSERT_EQ(group.quiet_floors().size(), 1u);
    EXPECT_EQ(group.quiet_floors()[0].version, 12u);
}

}  // namespace
}  // namespace fraiseql_cache::plan
