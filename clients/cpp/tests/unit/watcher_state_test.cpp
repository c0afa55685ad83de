// The rules of the watcher's state, without a server: when the local map
// may answer, which SQL reads may add pairs, and that reloads and
// notifications only ever raise versions.
#include <gtest/gtest.h>

#include "watcher_state.hpp"

namespace fraiseql_cache::client::detail {
namespace {

const std::string kT = "00000000-0000-0000-0000-00000000000a";
const std::string kAll = kAllTenants;
using Outcome = WatcherState::Outcome;

std::vector<DomainRead> reads(std::initializer_list<Version> vs, bool global = false) {
    std::vector<DomainRead> out;
    for (Version v : vs)
        out.push_back(DomainRead{v, global});
    return out;
}

TEST(WatcherState, UntrustedUntilLoaded) {
    WatcherState s;
    EXPECT_EQ(s.lookup(kT, {"d"}, true).outcome, Outcome::Unhealthy);
    s.apply_load({}, {}, {});
    EXPECT_EQ(s.lookup(kT, {"d"}, true).outcome, Outcome::Missing);
    EXPECT_EQ(s.lookup(kT, {"d"}, false).outcome, Outcome::Unhealthy)
        << "a silent listener is not trusted";
}

// A whole-domain bump announces the all-tenants pair with the domain's new
// floor: pairs held at an old floor (read for tenants the server has no
// version of, so never announced one by one) must move too.
TEST(WatcherState, DomainFloorRaisesEveryHeldPairOfTheDomain) {
    WatcherState s;
    s.apply_load({PairKey{kT, "d"}, PairKey{"00000000-0000-0000-0000-00000000000b", "d"},
                  PairKey{kT, "other"}},
                 {3, 70, 3}, {});
    VersionUpdate u{PairKey{kAll, "d"}, 60, 55};
    auto raised = s.apply_heard({u});
    EXPECT_EQ(s.lookup(kT, {"d"}, true).versions, (std::vector<Version>{55}));
    EXPECT_EQ(s.lookup("00000000-0000-0000-0000-00000000000b", {"d"}, true).versions,
              (std::vector<Version>{70}))
        << "a pair above the floor keeps its version";
    EXPECT_EQ(s.lookup(kT, {"other"}, true).versions, (std::vector<Version>{3}))
        << "other domains are untouched";
    EXPECT_EQ(raised.size(), 2u) << "the all-tenants pair and the one pair below the floor";
}

// A first read that started before a domain floor was raised, applied after
// it was heard: the pair is held (and answered) at least at the floor.
TEST(WatcherState, DomainFloorHeardIsRememberedForLaterReads) {
    WatcherState s;
    s.apply_load({}, {}, {});
    s.apply_heard({VersionUpdate{PairKey{kAll, "d"}, 60, 55}});
    std::vector<Version> merged;
    s.apply_read(kT, {"d", "other"}, reads({3, 3}), s.epoch(), true, &merged);
    EXPECT_EQ(merged, (std::vector<Version>{55, 3}));
    auto found = s.lookup(kT, {"d", "other"}, true);
    ASSERT_EQ(found.outcome, Outcome::Local);
    EXPECT_EQ(found.versions, (std::vector<Version>{55, 3}));
    // A reload that reads an older value never lowers it.
    s.apply_load({PairKey{kT, "d"}}, {4}, {});
    EXPECT_EQ(s.lookup(kT, {"d"}, true).versions, std::vector<Version>{55});
}

TEST(WatcherState, ReadsInTheSameHealthyEpochBecomeHeld) {
    WatcherState s;
    s.apply_load({}, {}, {});
    auto l = s.lookup(kT, {"a", "b"}, true);
    ASSERT_EQ(l.outcome, Outcome::Missing);
    std::vector<Version> merged;
    auto raised = s.apply_read(kT, {"a", "b"}, reads({4, 9}), l.epoch, true, &merged);
    EXPECT_EQ(raised.size(), 2u);
    EXPECT_EQ(merged, (std::vector<Version>{4, 9}));
    auto again = s.lookup(kT, {"b", "a"}, true);
    ASSERT_EQ(again.outcome, Outcome::Local);
    EXPECT_EQ(again.versions, (std::vector<Version>{9, 4}));
}

// A read that started before the listener was lost must not add a pair: the
// reload after the reconnect did not include it, so a notification missed
// in between would never be corrected.
TEST(WatcherState, ReadsAcrossALostListenerDoNotAddPairs) {
    WatcherState s;
    s.apply_load({}, {}, {});
    auto l = s.lookup(kT, {"a"}, true);
    s.mark_unhealthy();
    s.apply_load(s.held_pairs(), {}, {});  // reconnected and reloaded meanwhile
    std::vector<Version> merged;
    s.apply_read(kT, {"a"}, reads({4}), l.epoch, true, &merged);
    EXPECT_EQ(merged, (std::vector<Version>{4})) << "the caller still gets its answer";
    EXPECT_EQ(s.lookup(kT, {"a"}, true).outcome, Outcome::Missing);

    // Nor while unhealthy or not live.
    auto l2 = s.lookup(kT, {"a"}, true);
    s.apply_read(kT, {"a"}, reads({4}), l2.epoch, false, nullptr);
    EXPECT_EQ(s.lookup(kT, {"a"}, true).outcome, Outcome::Missing);
    s.mark_unhealthy();
    s.apply_read(kT, {"a"}, reads({4}), s.epoch(), true, nullptr);
    s.apply_load(s.held_pairs(), {}, {});
    EXPECT_EQ(s.lookup(kT, {"a"}, true).outcome, Outcome::Missing);
}

TEST(WatcherState, ReadsAlwaysRaiseHeldPairs) {
    WatcherState s;
    s.apply_load({{kT, "a"}}, {3}, {});
    s.mark_unhealthy();
    // refresh() while the listener is down still raises what is held.
    std::vector<Version> merged;
    s.apply_read(kT, {"a"}, reads({5}), s.epoch(), true, &merged);
    EXPECT_EQ(merged, (std::vector<Version>{5}));
    s.apply_load({}, {}, {});
    EXPECT_EQ(s.lookup(kT, {"a"}, true).versions, (std::vector<Version>{5}));
}

TEST(WatcherState, HeardAndReadKeepTheMaximum) {
    WatcherState s;
    s.apply_load({{kT, "a"}}, {3}, {});
    EXPECT_EQ(s.apply_heard({{{kT, "a"}, 7}}).size(), 1u);
    EXPECT_TRUE(s.apply_heard({{{kT, "a"}, 5}}).empty()) << "a late notification";
    std::vector<Version> merged;
    // A read that saw an older state (the bump announced before it was
    // published in shared memory): the caller gets the held maximum.
    s.apply_read(kT, {"a"}, reads({6}), s.epoch(), true, &merged);
    EXPECT_EQ(merged, (std::vector<Version>{7}));
    // A reload with an older value (it raced a notification): no change.
    EXPECT_TRUE(s.apply_load({{kT, "a"}}, {6}, {}).empty());
    EXPECT_EQ(s.lookup(kT, {"a"}, true).versions, (std::vector<Version>{7}));
}

TEST(WatcherState, HeardPairsAreHeldEvenBeforeTheirFirstLookup) {
    // A bump announced between a caller's miss and its SQL read must not be
    // lost: what is heard is held.
    WatcherState s;
    s.apply_load({}, {}, {});
    s.apply_heard({{{kT, "a"}, 8}});
    auto l = s.lookup(kT, {"a"}, true);
    ASSERT_EQ(l.outcome, Outcome::Local);
    EXPECT_EQ(l.versions, (std::vector<Version>{8}));
}

TEST(WatcherState, ReloadIncludesEveryHeldPair) {
    WatcherState s;
    s.apply_load({}, {}, {});
    s.apply_heard({{{kT, "a"}, 1}, {{kAll, "a"}, 1}});
    s.apply_read(kT, {"b"}, reads({2}), s.epoch(), true, nullptr);
    s.mark_unhealthy();
    auto pairs = s.held_pairs();
    EXPECT_EQ(pairs.size(), 3u);
    std::vector<Version> fresh(pairs.size(), 10);
    EXPECT_EQ(s.lookup(kT, {"a"}, true).outcome, Outcome::Unhealthy);
    EXPECT_EQ(s.apply_load(pairs, fresh, {}).size(), 3u);
    EXPECT_EQ(s.lookup(kT, {"a", "b"}, true).versions, (std::vector<Version>{10, 10}));
}

TEST(WatcherState, GlobalDomainsAreHeldUnderTheAllTenantsId) {
    WatcherState s;
    s.apply_load({}, {}, {"settings"});
    EXPECT_TRUE(s.is_global("settings"));
    s.apply_heard({{{kAll, "settings"}, 12}});
    auto l = s.lookup(kT, {"settings"}, true);
    ASSERT_EQ(l.outcome, Outcome::Local);
    EXPECT_EQ(l.versions, (std::vector<Version>{12}));

    // Learned from a read too.
    s.apply_read(kT, {"flags"}, reads({3}, true), s.epoch(), true, nullptr);
    EXPECT_TRUE(s.is_global("flags"));
    s.apply_heard({{{kAll, "flags"}, 4}});
    EXPECT_EQ(s.lookup("00000000-0000-0000-0000-00000000000b", {"flags"}, true).versions,
              (std::vector<Version>{4}));
}

TEST(WatcherState, EpochAdvancesOnEveryLoss) {
    WatcherState s;
    auto e0 = s.epoch();
    s.mark_unhealthy();
    s.mark_unhealthy();
    EXPECT_EQ(s.epoch(), e0 + 2);
    EXPECT_FALSE(s.healthy());
    s.apply_load({}, {}, {});
    EXPECT_TRUE(s.healthy());
}

}  // namespace
}  // namespace fraiseql_cache::client::detail
