#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "pg_fraiseql_cache/pair.hpp"
#include "pg_fraiseql_cache/pair_set.hpp"

using namespace fraiseql_cache;

namespace {

TenantId tenant(uint32_t n) {
    TenantId t{};
    std::memcpy(t.bytes + 4, &n, 4);
    t.bytes[15] = 0x42;
    return t;
}

using Key = std::pair<uint32_t, uint32_t>;

std::map<Key, uint32_t> contents(const PairSet &set) {
    std::map<Key, uint32_t> m;
    set.for_each([&](const PairKey &key, uint32_t count) {
        uint32_t n;
        std::memcpy(&n, key.tenant.bytes + 4, 4);
        EXPECT_EQ(key.tenant, tenant(n));
        m[{key.domain_id, n}] = count;
    });
    return m;
}

// Fraction of a uniform hash's expected distinct buckets that `tenants`
// reach in a table of `buckets` slots, and the fullest bucket.
struct Spread {
    double vs_uniform;
    uint32_t fullest;
};

Spread spread(std::size_t n, uint64_t buckets, const std::function<uint64_t(uint32_t)> &hash) {
    std::vector<uint32_t> load(buckets, 0);
    std::size_t used = 0;
    uint32_t fullest = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t &b = load[hash(i) & (buckets - 1)];
        if (b++ == 0)
            used++;
        fullest = std::max(fullest, b);
    }
    double expected = double(buckets) * (1.0 - std::exp(-double(n) / double(buckets)));
    return Spread{double(used) / expected, fullest};
}

}  // namespace

TEST(TenantId, AllIsTheZeroTenant) {
    EXPECT_TRUE(TenantId::all().is_all());
    TenantId t = TenantId::all();
    t.bytes[15] = 1;
    EXPECT_FALSE(t.is_all());
    EXPECT_NE(t, TenantId::all());
    t.bytes[15] = 0;
    EXPECT_EQ(t, TenantId::all());
    EXPECT_FALSE(tenant(0).is_all());
}

TEST(HashPair, DependsOnEveryTenantByteAndTheDomain) {
    TenantId base = tenant(12345);
    uint64_t h = hash_pair(7, base);
    EXPECT_EQ(h, hash_pair(7, base));
    EXPECT_NE(h, hash_pair(8, base));
    for (int i = 0; i < 16; i++) {
        TenantId t = base;
        t.bytes[i] ^= 0x01;
        EXPECT_NE(hash_pair(7, t), h) << "byte " << i;
        t.bytes[i] ^= 0x81;
        EXPECT_NE(hash_pair(7, t), h) << "byte " << i;
    }
}

// 10k distinct keys in a 16k-slot table. A perfectly uniform hash would
// fill about 7.5k slots (the rest collide by chance); the hash must reach
// more than 90% of that for each key shape.
TEST(HashPair, DistinctTenantsSpreadOverBuckets) {
    constexpr std::size_t kKeys = 10000;
    constexpr uint64_t kBuckets = 16384;

    std::mt19937_64 rng(1);
    std::vector<TenantId> random_tenants(kKeys);
    for (auto &t : random_tenants) {
        uint64_t a = rng(), b = rng();
        std::memcpy(t.bytes, &a, 8);
        std::memcpy(t.bytes + 8, &b, 8);
        t.bytes[6] = uint8_t((t.bytes[6] & 0x0f) | 0x40);  // uuid v4 layout
        t.bytes[8] = uint8_t((t.bytes[8] & 0x3f) | 0x80);
    }

    struct Shape {
        const char *name;
        std::function<uint64_t(uint32_t)> hash;
    };
    std::vector<Shape> shapes = {
        {"random uuid", [&](uint32_t i) { return hash_pair(3, random_tenants[i]); }},
        {"counter in low bytes",
         [](uint32_t i) {
             TenantId t{};
             std::memcpy(t.bytes, &i, 4);
             return hash_pair(3, t);
         }},
        {"counter in high bytes",
         [](uint32_t i) {
             TenantId t{};
             std::memcpy(t.bytes + 12, &i, 4);
             return hash_pair(3, t);
         }},
        {"counter in both halves",
         [](uint32_t i) {
             TenantId t{};
             std::memcpy(t.bytes, &i, 4);
             std::memcpy(t.bytes + 8, &i, 4);
             return hash_pair(3, t);
         }},
        {"domains of the all tenant", [](uint32_t i) { return hash_pair(i, TenantId::all()); }},
        {"domains of one tenant",
         [&](uint32_t i) { return hash_pair(i, random_tenants[0]); }},
    };
    for (const Shape &shape : shapes) {
        Spread s = spread(kKeys, kBuckets, shape.hash);
        EXPECT_GT(s.vs_uniform, 0.9) << shape.name;
        EXPECT_LE(s.fullest, 10u) << shape.name;
    }
}

TEST(PairSet, StartsEmptyWithPowerOfTwoCapacity) {
    PairSet a;
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(a.capacity(), 64u);
    PairSet b(1);
    EXPECT_EQ(b.capacity(), 16u);
    PairSet c(100);
    EXPECT_EQ(c.capacity(), 128u);
    EXPECT_FALSE(c.contains(1, tenant(1)));
}

TEST(PairSet, AddReturnsTrueOnlyForNewPairs) {
    PairSet set;
    EXPECT_TRUE(set.add(1, tenant(1)));
    EXPECT_FALSE(set.add(1, tenant(1)));
    EXPECT_TRUE(set.add(2, tenant(1)));
    EXPECT_TRUE(set.add(1, tenant(2)));
    EXPECT_TRUE(set.add(1, TenantId::all()));
    EXPECT_FALSE(set.add(2, tenant(1)));
    EXPECT_FALSE(set.add(1, tenant(1)));
    EXPECT_EQ(set.size(), 4u);
    EXPECT_FALSE(set.empty());
}

TEST(PairSet, CountsAccumulate) {
    PairSet set;
    set.add(1, tenant(1));
    set.add(1, tenant(1));
    set.add(1, tenant(1), 5);
    set.add(2, tenant(2), 3);
    set.add(2, tenant(2));
    auto m = contents(set);
    EXPECT_EQ(m.size(), 2u);
    EXPECT_EQ((m[{1, 1}]), 7u);
    EXPECT_EQ((m[{2, 2}]), 4u);
}

TEST(PairSet, SameAsLastFastPathCountsAlternatingKeys) {
    PairSet set;
    const uint32_t pattern[] = {0, 0, 1, 0, 1, 1, 2, 0, 2, 2, 2, 1};
    std::map<Key, uint32_t> expected;
    for (uint32_t p : pattern) {
        bool was_new = expected.find({p, p}) == expected.end();
        EXPECT_EQ(set.add(p, tenant(p)), was_new);
        expected[{p, p}]++;
    }
    EXPECT_EQ(contents(set), expected);

    // Same tenant, other domain, straight after: must not hit the last slot.
    EXPECT_TRUE(set.add(1, tenant(2)));
    EXPECT_TRUE(set.add(2, tenant(1)));
    expected[{1, 2}] = 1;
    expected[{2, 1}] = 1;
    EXPECT_EQ(contents(set), expected);
}

TEST(PairSet, FastPathSurvivesGrowthBetweenRepeats) {
    PairSet set(16);
    std::map<Key, uint32_t> expected;
    for (uint32_t i = 0; i < 1000; i++) {
        set.add(0, tenant(0));
        set.add(0, tenant(0));
        expected[{0, 0}] += 2;
        ASSERT_TRUE(set.add(1, tenant(i)));
        expected[{1, i}] = 1;
        set.add(1, tenant(i));
        expected[{1, i}]++;
    }
    EXPECT_EQ(set.size(), 1001u);
    EXPECT_EQ(contents(set), expected);
}

TEST(PairSet, GrowthKeepsEveryPair) {
    constexpr uint32_t kPairs = 20000;
    PairSet set(16);
    for (uint32_t i = 0; i < kPairs; i++) {
        ASSERT_TRUE(set.add(i % 5, tenant(i)));
        ASSERT_LE(set.size() * 2, set.capacity()) << "load above one half at " << i;
    }
    EXPECT_EQ(set.size(), kPairs);
    for (uint32_t i = 0; i < kPairs; i++) {
        ASSERT_TRUE(set.contains(i % 5, tenant(i))) << i;
        ASSERT_FALSE(set.contains(i % 5 + 1, tenant(i))) << i;
    }
    for (uint32_t i = 0; i < kPairs; i += 3)
        ASSERT_FALSE(set.add(i % 5, tenant(i)));
    auto m = contents(set);
    ASSERT_EQ(m.size(), std::size_t(kPairs));
    for (uint32_t i = 0; i < kPairs; i++)
        ASSERT_EQ((m[{i % 5, i}]), i % 3 == 0 ? 2u : 1u) << i;
}

TEST(PairSet, SlotWalkMatchesForEach) {
    PairSet set;
    for (uint32_t i = 0; i < 300; i++)
        set.add(i & 3, tenant(i), i + 1);
    std::map<Key, uint32_t> walked;
    std::size_t used = 0;
    for (std::size_t i = 0; i < set.capacity(); i++) {
        const PairSet::Slot &s = set.slot_at(i);
        if (!s.used)
            continue;
        used++;
        uint32_t n;
        std::memcpy(&n, s.key.tenant.bytes + 4, 4);
        walked[{s.key.domain_id, n}] = s.count;
    }
    EXPECT_EQ(used, set.size());
    EXPECT_EQ(walked, contents(set));
}

TEST(PairSet, ClearEmptiesAndKeepsSmallStorage) {
    static_assert(noexcept(std::declval<PairSet &>().clear()));
    PairSet set;
    for (uint32_t i = 0; i < 20; i++)
        set.add(1, tenant(i));
    std::size_t capacity = set.capacity();
    set.clear();
    EXPECT_TRUE(set.empty());
    EXPECT_EQ(set.size(), 0u);
    EXPECT_EQ(set.capacity(), capacity);
    for (uint32_t i = 0; i < 20; i++)
        EXPECT_FALSE(set.contains(1, tenant(i)));
    int visited = 0;
    set.for_each([&](const PairKey &, uint32_t) { visited++; });
    EXPECT_EQ(visited, 0);
}

TEST(PairSet, ClearShrinksALargeTable) {
    PairSet set;
    for (uint32_t i = 0; i < 50000; i++)
        set.add(2, tenant(i));
    ASSERT_GT(set.capacity(), 4096u);
    set.clear();
    EXPECT_TRUE(set.empty());
    EXPECT_EQ(set.capacity(), 4096u);
    EXPECT_FALSE(set.contains(2, tenant(0)));
    EXPECT_FALSE(set.contains(2, tenant(49999)));

    for (uint32_t i = 0; i < 10; i++)
        set.add(4, tenant(i));
    set.clear(16);
    EXPECT_EQ(set.capacity(), 16u);
    EXPECT_TRUE(set.empty());
}

TEST(PairSet, AddAfterClearStartsCountsAfresh) {
    PairSet set;
    set.add(1, tenant(1), 10);
    set.clear();
    EXPECT_TRUE(set.add(1, tenant(1))) << "the last-added shortcut must not outlive clear()";
    auto m = contents(set);
    EXPECT_EQ(m.size(), 1u);
    EXPECT_EQ((m[{1, 1}]), 1u);

    for (uint32_t i = 0; i < 10000; i++)
        set.add(1, tenant(i));
    set.add(1, tenant(9999));
    set.clear();
    EXPECT_TRUE(set.add(1, tenant(9999)));
    EXPECT_EQ(set.size(), 1u);
    m = contents(set);
    EXPECT_EQ((m[{1, 9999}]), 1u);
}

TEST(PairSet, ClearOfEmptySetIsHarmless) {
    PairSet set;
    set.clear();
    EXPECT_TRUE(set.empty());
    EXPECT_TRUE(set.add(1, tenant(1)));
    EXPECT_EQ(set.size(), 1u);
}
