#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "fraiseql_cache/client/version_map.hpp"

namespace fraiseql_cache::client {
namespace {

const PairKey kA{"00000000-0000-0000-0000-00000000000a", "contract"};
const PairKey kB{"00000000-0000-0000-0000-00000000000b", "contract"};

TEST(VersionMap, KeepsTheMaximum) {
    VersionMap m;
    EXPECT_TRUE(m.merge(kA, 5));
    EXPECT_FALSE(m.merge(kA, 3)) << "an older version must not lower the held one";
    EXPECT_FALSE(m.merge(kA, 5)) << "a duplicate changes nothing";
    EXPECT_EQ(m.get(kA), 5);
    EXPECT_TRUE(m.merge(kA, 6));
    EXPECT_EQ(m.get(kA), 6);
    EXPECT_FALSE(m.get(kB).has_value());
}

TEST(VersionMap, MergeExistingNeverAddsPairs) {
    VersionMap m;
    EXPECT_FALSE(m.merge_existing(kA, 9));
    EXPECT_FALSE(m.contains(kA));
    m.merge(kA, 1);
    EXPECT_TRUE(m.merge_existing(kA, 9));
    EXPECT_FALSE(m.merge_existing(kA, 2));
    EXPECT_EQ(m.get(kA), 9);
}

TEST(VersionMap, PairsAreIndependent) {
    VersionMap m;
    m.merge(kA, 10);
    m.merge(kB, 2);
    m.merge(PairKey{kA.tenant, "item"}, 4);
    EXPECT_EQ(m.get(kA), 10);
    EXPECT_EQ(m.get(kB), 2);
    EXPECT_EQ(m.get(PairKey{kA.tenant, "item"}), 4);
    EXPECT_EQ(m.size(), 3u);
    auto keys = m.keys();
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(keys.size(), 3u);
}

// Notifications may arrive late, twice, or interleaved with a reload: any
// order of the same updates must end in the same map (the per-pair maximum).
TEST(VersionMap, MergeIsOrderFreeAndIdempotent) {
    std::mt19937 rng(12345);
    std::vector<VersionUpdate> updates;
    std::map<PairKey, Version> expected;
    for (int i = 0; i < 400; i++) {
        PairKey k{i % 3 ? kA.tenant : kB.tenant, "d" + std::to_string(i % 7)};
        Version v = Version(rng() % 1000);
        updates.push_back({k, v});
        expected[k] = std::max(expected.count(k) ? expected[k] : 0, v);
    }
    for (int round = 0; round < 20; round++) {
        auto shuffled = updates;
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        // Replay a random prefix again: duplicates must not matter.
        std::vector<VersionUpdate> again(
            shuffled.begin(), shuffled.begin() + std::ptrdiff_t(rng() % shuffled.size()));
        shuffled.insert(shuffled.end(), again.begin(), again.end());
        VersionMap m;
        for (const auto &u : shuffled)
            m.merge(u.pair, u.version);
        ASSERT_EQ(m.size(), expected.size());
        for (const auto &[k, v] : expected)
            ASSERT_EQ(m.get(k), v) << "round " << round << " " << k.tenant << "/" << k.domain;
    }
}

}  // namespace
}  // namespace fraiseql_cache::client
