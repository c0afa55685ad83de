#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fraiseql_cache/client/lru_store.hpp"

namespace fraiseql_cache::client {
namespace {

StoredEntry entry(const std::string &v) { return StoredEntry{{"d"}, {1}, v}; }

TEST(LruStore, EvictsTheLeastRecentlyUsed) {
    LruStore s(3);
    s.put("a", entry("A"));
    s.put("b", entry("B"));
    s.put("c", entry("C"));
    ASSERT_TRUE(s.get("a").has_value());  // a is now the most recent; b the least
    s.put("d", entry("D"));
    EXPECT_FALSE(s.get("b").has_value());
    EXPECT_TRUE(s.get("a").has_value());
    EXPECT_TRUE(s.get("c").has_value());
    EXPECT_TRUE(s.get("d").has_value());
    EXPECT_EQ(s.size(), 3u);
    EXPECT_EQ(s.evictions(), 1u);
}

TEST(LruStore, PutReplacesAndRefreshes) {
    LruStore s(2);
    s.put("a", entry("A1"));
    s.put("b", entry("B"));
    s.put("a", entry("A2"));  // replaces a, makes it the most recent
    s.put("c", entry("C"));   // evicts b
    ASSERT_TRUE(s.get("a").has_value());
    EXPECT_EQ(s.get("a")->value, "A2");
    EXPECT_FALSE(s.get("b").has_value());
    EXPECT_EQ(s.size(), 2u);
}

TEST(LruStore, Erase) {
    LruStore s(2);
    s.put("a", entry("A"));
    s.erase("a");
    s.erase("missing");
    EXPECT_FALSE(s.get("a").has_value());
    EXPECT_EQ(s.size(), 0u);
}

TEST(LruStore, ZeroCapacityIsRefused) { EXPECT_THROW(LruStore(0), std::invalid_argument); }

TEST(LruStore, ConcurrentUseKeepsTheBound) {
    LruStore s(50);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++)
        threads.emplace_back([&s, t] {
            for (int i = 0; i < 2000; i++) {
                std::string k = std::to_string((i * 7 + t) % 120);
                if (i % 3) {
                    s.put(k, entry(k));
                } else if (auto e = s.get(k)) {
                    ASSERT_EQ(e->value, k);
                }
            }
        });
    for (auto &th : threads)
        th.join();
    EXPECT_LE(s.size(), 50u);
}

}  // namespace
}  // namespace fraiseql_cache::client
