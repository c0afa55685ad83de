#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "fraiseql_cache/client/lru_store.hpp"
#include "fraiseql_cache/client/versioned_cache.hpp"

namespace fraiseql_cache::client {
namespace {

const std::string kT = "00000000-0000-0000-0000-00000000000a";

// Versions set by the test; records the order of calls.
class FakeVersions : public VersionSource {
  public:
    std::vector<Version> versions(const std::string &tenant,
                                  const std::vector<std::string> &domains) override {
        calls++;
        if (fail)
            throw std::runtime_error("server unreachable");
        std::vector<Version> out;
        for (const auto &d : domains)
            out.push_back(v[{tenant, d}]);
        log->push_back("versions");
        return out;
    }
    std::map<std::pair<std::string, std::string>, Version> v;
    bool fail = false;
    int calls = 0;
    std::vector<std::string> *log = nullptr;
};

class FailingStore : public CacheStore {
  public:
    std::optional<StoredEntry> get(const std::string &) override { throw StoreError("down"); }
    void put(const std::string &, const StoredEntry &) override { throw StoreError("down"); }
    void erase(const std::string &) override { throw StoreError("down"); }
};

struct IntCodec {
    static std::string encode(int v) { return std::to_string(v); }
    static std::optional<int> decode(const std::string &s) {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
        return std::stoi(s);
    }
};

class VersionedCacheTest : public ::testing::Test {
  protected:
    void SetUp() override { src.log = &log; }
    std::vector<std::string> log;
    FakeVersions src;
    LruStore store{100};
};

TEST_F(VersionedCacheTest, ReadsVersionsBeforeComputing) {
    VersionedCache<std::string> cache(src, store);
    cache.get_or_compute("k", kT, {"contract"}, [&] {
        log.push_back("compute");
        return std::string("v");
    });
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0], "versions");
    EXPECT_EQ(log[1], "compute");
}

TEST_F(VersionedCacheTest, HitsWhileVersionsMatchMissesAfterABump) {
    VersionedCache<int, IntCodec> cache(src, store);
    int computed = 0;
    auto compute = [&] { return ++computed; };
    src.v[{kT, "contract"}] = 3;
    EXPECT_EQ(cache.get_or_compute("k", kT, {"contract", "item"}, compute), 1);
    EXPECT_EQ(cache.get_or_compute("k", kT, {"contract", "item"}, compute), 1);
    EXPECT_EQ(cache.get_or_compute("k", kT, {"contract", "item"}, compute), 1);
    src.v[{kT, "item"}] = 1;  // any domain of the key
    EXPECT_EQ(cache.get_or_compute("k", kT, {"contract", "item"}, compute), 2);
    EXPECT_EQ(cache.get_or_compute("k", kT, {"contract", "item"}, compute), 2);
    auto c = cache.counters();
    EXPECT_EQ(c.hits, 3u);
    EXPECT_EQ(c.misses, 2u);
    EXPECT_EQ(c.refused_stale, 1u);
}

TEST_F(VersionedCacheTest, TenantsAndKeysAreSeparate) {
    VersionedCache<std::string> cache(src, store);
    const std::string other = "00000000-0000-0000-0000-00000000000b";
    EXPECT_EQ(cache.get_or_compute("k", kT, {"d"}, [] { return std::string("a"); }), "a");
    EXPECT_EQ(cache.get_or_compute("k", other, {"d"}, [] { return std::string("b"); }), "b");
    EXPECT_EQ(cache.get_or_compute("k2", kT, {"d"}, [] { return std::string("c"); }), "c");
    EXPECT_EQ(cache.get_or_compute("k", kT, {"d"}, [] { return std::string("x"); }), "a");
    // Upper-case tenant ids name the same tenant.
    EXPECT_EQ(cache.get_or_compute("k", "00000000-0000-0000-0000-00000000000A", {"d"},
                                   [] { return std::string("x"); }),
              "a");
}

TEST_F(VersionedCacheTest, AnEntryForOtherDomainsIsNotServed) {
    VersionedCache<std::string> cache(src, store);
    cache.get_or_compute("k", kT, {"a"}, [] { return std::string("1"); });
    EXPECT_EQ(cache.get_or_compute("k", kT, {"a", "b"}, [] { return std::string("2"); }), "2");
    EXPECT_EQ(cache.counters().hits, 0u);
}

TEST_F(VersionedCacheTest, ANewerEntryThanOurVersionsIsRefusedToo) {
    // Versions must match exactly: an entry tagged with versions this
    // process has not seen yet is refused (counted), never served.
    VersionedCache<std::string> cache(src, store);
    store.put(cache.store_key(kT, "k"), StoredEntry{{"d"}, {7}, "future"});
    src.v[{kT, "d"}] = 6;
    auto r = cache.fetch("k", kT, {"d"}, [] { return std::string("now"); });
    EXPECT_EQ(r.value, "now");
    EXPECT_EQ(r.outcome, CacheOutcome::Miss);
    EXPECT_EQ(cache.counters().refused_stale, 1u);
}

TEST_F(VersionedCacheTest, ComputeExceptionsPropagateAndStoreNothing) {
    VersionedCache<std::string> cache(src, store);
    EXPECT_THROW(cache.get_or_compute("k", kT, {"d"},
                                      []() -> std::string { throw std::runtime_error("query failed"); }),
                 std::runtime_error);
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(cache.get_or_compute("k", kT, {"d"}, [] { return std::string("ok"); }), "ok");
}

TEST_F(VersionedCacheTest, UnreadableVersionsComputeWithoutCaching) {
    VersionedCache<std::string> cache(src, store);
    src.fail = true;
    auto r = cache.fetch("k", kT, {"d"}, [] { return std::string("v"); });
    EXPECT_EQ(r.value, "v");
    EXPECT_EQ(r.outcome, CacheOutcome::Uncached);
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(cache.counters().version_errors, 1u);
}

TEST_F(VersionedCacheTest, ABadTenantIsTheCallersError) {
    VersionedCache<std::string> cache(src, store);
    EXPECT_THROW(cache.get_or_compute("k", "tenant-1", {"d"}, [] { return std::string(); }),
                 std::invalid_argument);
}

TEST_F(VersionedCacheTest, AFailingStoreIsAMissNeverAHit) {
    FailingStore failing;
    VersionedCache<std::string> cache(src, failing);
    int computed = 0;
    for (int i = 0; i < 3; i++)
        cache.get_or_compute("k", kT, {"d"}, [&] { return std::to_string(++computed); });
    auto c = cache.counters();
    EXPECT_EQ(computed, 3);
    EXPECT_EQ(c.hits, 0u);
    EXPECT_EQ(c.misses, 3u);
    EXPECT_EQ(c.store_errors, 6u);  // each get and each put
}

TEST_F(VersionedCacheTest, UndecodableValueIsAMiss) {
    VersionedCache<int, IntCodec> cache(src, store);
    store.put(cache.store_key(kT, "k"), StoredEntry{{"d"}, {0}, "garbage"});
    EXPECT_EQ(cache.get_or_compute("k", kT, {"d"}, [] { return 5; }), 5);
    EXPECT_EQ(cache.counters().decode_errors, 1u);
    EXPECT_EQ(cache.get_or_compute("k", kT, {"d"}, [] { return 6; }), 5);
}

TEST_F(VersionedCacheTest, NamedCachesSharingAStoreDoNotCollide) {
    VersionedCache<std::string> a(src, store, "a");
    VersionedCache<std::string> b(src, store, "b");
    a.get_or_compute("k", kT, {"d"}, [] { return std::string("from a"); });
    EXPECT_EQ(b.get_or_compute("k", kT, {"d"}, [] { return std::string("from b"); }), "from b");
    EXPECT_EQ(a.get_or_compute("k", kT, {"d"}, [] { return std::string("x"); }), "from a");
}

}  // namespace
}  // namespace fraiseql_cache::client
