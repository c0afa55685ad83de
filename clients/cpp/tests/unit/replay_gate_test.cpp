// Replica mode without a server: WAL positions, the "lsn" of a payload, and
// the gate that holds a heard version until the replica has replayed it.
#include <gtest/gtest.h>

#include "fraiseql_cache/client/lsn.hpp"
#include "fraiseql_cache/client/notification.hpp"
#include "replay_gate.hpp"
#include "replica_link.hpp"
#include "watcher_state.hpp"

namespace fraiseql_cache::client::detail {
namespace {

const std::string kT = "00000000-0000-0000-0000-00000000000a";
const std::string kU = "00000000-0000-0000-0000-00000000000b";
const std::string kAll = kAllTenants;

VersionUpdate heard(const std::string &tenant, const std::string &domain, Version v, Lsn lsn,
                    Version floor = 0) {
    VersionUpdate u{PairKey{tenant, domain}, v, floor};
    u.lsn = lsn;
    return u;
}

TEST(Lsn, ParsesAndPrintsPostgresText) {
    EXPECT_EQ(parse_lsn("0/3A41C58"), std::optional<Lsn>(0x3A41C58));
    EXPECT_EQ(parse_lsn("1/0"), std::optional<Lsn>(Lsn(1) << 32));
    EXPECT_EQ(parse_lsn("FFFFFFFF/ffffffff"), std::optional<Lsn>(~Lsn(0)));
    EXPECT_EQ(format_lsn(0x3A41C58), "0/3A41C58");
    EXPECT_EQ(format_lsn((Lsn(0x16) << 32) | 0xB3748), "16/B3748");
    for (const char *bad : {"", "/", "0/", "/1", "0x1/2", "1/2/3", "123456789/0", "g/0", " 0/1"})
        EXPECT_FALSE(parse_lsn(bad).has_value()) << bad;
    // Compared as numbers, not as text.
    EXPECT_LT(*parse_lsn("0/FFFFFFFF"), *parse_lsn("1/0"));
    EXPECT_LT(*parse_lsn("0/9"), *parse_lsn("0/10"));
}

TEST(Lsn, PayloadCarriesItAndABadOneIsUnreadable) {
    auto u = parse_notification(R"({"tenant_id": ")" + kT +
                                R"(", "domain": "contract", "version": 43, "lsn": "0/3A41C58"})");
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ((*u)[0].lsn, Lsn(0x3A41C58));
    auto none = parse_notification(R"({"tenant_id": ")" + kT + R"(", "domain": "c", "version": 1})");
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ((*none)[0].lsn, Lsn(0)) << "absent: 0";
    for (const std::string bad : {R"("zz")", R"(12)", R"("0/1/2")", "null"})
        EXPECT_FALSE(parse_notification(R"({"tenant_id": ")" + kT +
                                        R"(", "domain": "c", "version": 1, "lsn": )" + bad + "}")
                         .has_value())
            << bad;
}

TEST(ReplayGate, HoldsAVersionUntilItsLsnIsReplayed) {
    ReplayGate g;
    g.add({heard(kT, "d", 5, 0x100)});
    EXPECT_TRUE(g.pending_for(PairKey{kT, "d"}));
    EXPECT_FALSE(g.pending_for(PairKey{kU, "d"}));
    EXPECT_FALSE(g.pending_for(PairKey{kT, "other"}));
    EXPECT_TRUE(g.release(0xFF).empty()) << "one byte short of the notification's position";
    EXPECT_EQ(g.size(), 1u);
    auto out = g.release(0x100);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].version, 5);
    EXPECT_TRUE(g.empty());
    EXPECT_FALSE(g.pending_for(PairKey{kT, "d"}));
}

TEST(ReplayGate, ReleasesEachEntryOnItsOwnInArrivalOrder) {
    ReplayGate g;
    g.add({heard(kT, "d", 5, 0x300), heard(kU, "d", 7, 0x100), heard(kT, "d", 6, 0x200)});
    auto first = g.release(0x250);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].version, 7);
    EXPECT_EQ(first[1].version, 6);
    EXPECT_TRUE(g.pending_for(PairKey{kT, "d"})) << "version 5 still waits";
    EXPECT_FALSE(g.pending_for(PairKey{kU, "d"}));
    auto rest = g.release(0x300);
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].version, 5);
}

TEST(ReplayGate, UpdatesWithoutLsnTakeThePositionGiven) {
    ReplayGate g;
    g.add({heard(kT, "d", 5, 0), heard(kT, "e", 9, 0x500)}, 0x400);
    EXPECT_EQ(g.release(0x3FF).size(), 0u);
    auto out = g.release(0x400);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].pair.domain, "d");
    EXPECT_EQ(out[0].lsn, Lsn(0x400));
    EXPECT_EQ(g.release(0x500).size(), 1u) << "an update's own lsn wins over the position given";
    EXPECT_THROW(g.add({heard(kT, "d", 1, 0)}), std::invalid_argument) << "no position at all";
}

TEST(ReplayGate, AllTenantsEntryMakesEveryTenantOfTheDomainPending) {
    ReplayGate g;
    g.add({heard(kAll, "d", 60, 0x10, 55)});
    EXPECT_TRUE(g.pending_for(PairKey{kT, "d"})) << "a domain floor or a global domain";
    EXPECT_TRUE(g.pending_for(PairKey{kU, "d"}));
    EXPECT_FALSE(g.pending_for(PairKey{kT, "e"}));
}

TEST(ReplayGate, OverflowMergesPerPairAndNeverReleasesEarlier) {
    ReplayGate g(4);
    g.add({heard(kT, "d", 1, 0x10), heard(kT, "d", 2, 0x20), heard(kU, "d", 3, 0x15)});
    g.add({heard(kT, "d", 4, 0x40), heard(kU, "d", 5, 0x30, 2)});
    EXPECT_EQ(g.size(), 2u) << "merged to one entry per pair";
    EXPECT_TRUE(g.release(0x2F).empty()) << "a merged entry waits for its pair's highest lsn";
    auto u = g.release(0x3F);
    ASSERT_EQ(u.size(), 1u);
    EXPECT_EQ(u[0].version, 5);
    EXPECT_EQ(u[0].domain_floor, 2);
    auto t = g.release(0x40);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].version, 4);
}

TEST(ReplayGate, ClearForgetsEverything) {
    ReplayGate g;
    g.add({heard(kT, "d", 1, 0x10)});
    g.clear();
    EXPECT_TRUE(g.empty());
    EXPECT_FALSE(g.pending_for(PairKey{kT, "d"}));
    EXPECT_TRUE(g.release(~Lsn(0)).empty());
}

// The watcher's path: heard -> gate -> map. Until the replica has replayed
// the notification, the pair keeps its previous version (the replica's data
// is still the older one); afterwards the map has the new one.
TEST(ReplayGate, MapKeepsThePreviousVersionUntilReplayed) {
    WatcherState s;
    ReplayGate g;
    s.apply_load({PairKey{kT, "d"}}, {10}, {});
    g.add({heard(kT, "d", 11, 0x2000)});
    s.apply_heard(g.release(0x1FFF));
    EXPECT_EQ(s.lookup(kT, {"d"}, true).versions, std::vector<Version>{10});
    auto raised = s.apply_heard(g.release(0x2000));
    ASSERT_EQ(raised.size(), 1u);
    EXPECT_EQ(s.lookup(kT, {"d"}, true).versions, std::vector<Version>{11});
}

// After a failover the map is dropped: no version of the old primary stays.
TEST(WatcherState, ClearDropsEveryVersionAndTrust) {
    WatcherState s;
    s.apply_load({PairKey{kT, "d"}}, {10}, {"g"});
    const auto epoch = s.epoch();
    s.clear();
    EXPECT_EQ(s.size(), 0u);
    EXPECT_FALSE(s.is_global("g"));
    EXPECT_EQ(s.lookup(kT, {"d"}, true).outcome, WatcherState::Outcome::Unhealthy);
    EXPECT_GT(s.epoch(), epoch) << "reads started before the drop do not hold pairs";
    s.apply_load({PairKey{kT, "d"}}, {7}, {});
    EXPECT_EQ(s.lookup(kT, {"d"}, true).versions, std::vector<Version>{7})
        << "the new server's version, even lower, replaces the old one";
}

TEST(ServerIdentity, TimelineOfWalFileAndHistories) {
    EXPECT_EQ(timeline_of_walfile("000000020000000000000003"), 2u);
    EXPECT_EQ(timeline_of_walfile("0000000A0000000100000003"), 10u);
    EXPECT_THROW(timeline_of_walfile("0001"), std::runtime_error);
    ServerIdentity a{"7301", 1, false}, promoted{"7301", 2, false}, other{"9999", 1, false};
    EXPECT_TRUE(a.same_history(a));
    EXPECT_FALSE(a.same_history(promoted));
    EXPECT_FALSE(a.same_history(other));
}

}  // namespace
}  // namespace fraiseql_cache::client::detail
