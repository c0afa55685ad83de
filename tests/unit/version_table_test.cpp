#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <new>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "pg_fraiseql_cache/version_table.hpp"

using namespace fraiseql_cache;

namespace {

class TableMemory {
  public:
    explicit TableMemory(uint64_t max_entries) : bytes_(VersionTable::bytes_needed(max_entries)) {
        memory_ = ::operator new(bytes_, std::align_val_t(64));
        std::memset(memory_, 0x5A, bytes_);
    }
    ~TableMemory() { ::operator delete(memory_, std::align_val_t(64)); }
    TableMemory(const TableMemory &) = delete;
    TableMemory &operator=(const TableMemory &) = delete;
    void *get() const { return memory_; }

  private:
    std::size_t bytes_;
    void *memory_;
};

// A tenant derived from the key, with a check word, so a reader can tell a
// complete tenant from a torn or uninitialised one.
TenantId tenant_for(uint32_t domain_id, uint32_t n) {
    TenantId t{};
    uint64_t a = hash_bytes(&n, sizeof n, domain_id);
    uint32_t check = uint32_t(hash_bytes(&a, sizeof a, n));
    std::memcpy(t.bytes, &a, 8);
    std::memcpy(t.bytes + 8, &n, 4);
    std::memcpy(t.bytes + 12, &check, 4);
    return t;
}

bool tenant_consistent(uint32_t domain_id, const TenantId &t) {
    uint32_t n;
    std::memcpy(&n, t.bytes + 8, 4);
    return t == tenant_for(domain_id, n);
}

using Key = std::pair<uint32_t, uint32_t>;

}  // namespace

TEST(VersionTable, SizingKeepsLoadAtMostHalf) {
    for (uint64_t max : {1u, 2u, 3u, 100u, 1000u, 1024u}) {
        TableMemory mem(max);
        VersionTable t = VersionTable::create(mem.get(), max);
        EXPECT_GE(t.slots(), 2 * max);
        EXPECT_EQ(t.slots() & (t.slots() - 1), 0u);
        EXPECT_EQ(t.max_entries(), max);
        EXPECT_EQ(t.count(), 0u);
    }
}

TEST(VersionTable, LookupMiss) {
    TableMemory mem(16);
    VersionTable t = VersionTable::create(mem.get(), 16);
    uint64_t v = 77;
    EXPECT_FALSE(t.lookup(1, tenant_for(1, 1), &v));
    EXPECT_FALSE(t.lookup(0, TenantId::all(), &v));
    EXPECT_EQ(v, 77u);

    ASSERT_TRUE(t.store(1, tenant_for(1, 1), 5, 50));
    EXPECT_FALSE(t.lookup(2, tenant_for(1, 1), &v)) << "same tenant, other domain";
    EXPECT_FALSE(t.lookup(1, tenant_for(1, 2), &v)) << "same domain, other tenant";
    EXPECT_FALSE(t.lookup(1, TenantId::all(), &v));
}

TEST(VersionTable, StoreThenLookup) {
    TableMemory mem(16);
    VersionTable t = VersionTable::create(mem.get(), 16);
    ASSERT_TRUE(t.store(3, tenant_for(3, 9), 42, 1000));
    ASSERT_TRUE(t.store(3, TenantId::all(), 7, 2000));
    EXPECT_EQ(t.count(), 2u);

    uint64_t v = 0;
    int64_t modified = 0;
    ASSERT_TRUE(t.lookup(3, tenant_for(3, 9), &v, &modified));
    EXPECT_EQ(v, 42u);
    EXPECT_EQ(modified, 1000);
    ASSERT_TRUE(t.lookup(3, TenantId::all(), &v, &modified));
    EXPECT_EQ(v, 7u);
    EXPECT_EQ(modified, 2000);
}

TEST(VersionTable, StoreUpdatesExistingKey) {
    TableMemory mem(16);
    VersionTable t = VersionTable::create(mem.get(), 16);
    ASSERT_TRUE(t.store(1, tenant_for(1, 1), 1, 10));
    ASSERT_TRUE(t.store(1, tenant_for(1, 2), 1, 10));
    ASSERT_TRUE(t.store(1, tenant_for(1, 1), 2, 20));
    EXPECT_EQ(t.count(), 2u);
    uint64_t v = 0;
    int64_t modified = 0;
    ASSERT_TRUE(t.lookup(1, tenant_for(1, 1), &v, &modified));
    EXPECT_EQ(v, 2u);
    EXPECT_EQ(modified, 20);
    ASSERT_TRUE(t.lookup(1, tenant_for(1, 2), &v, &modified));
    EXPECT_EQ(v, 1u);
    EXPECT_EQ(modified, 10);
}

TEST(VersionTable, AttachSeesStoredVersions) {
    TableMemory mem(8);
    VersionTable writer = VersionTable::create(mem.get(), 8);
    ASSERT_TRUE(writer.store(2, tenant_for(2, 2), 11, 0));
    VersionTable reader = VersionTable::attach(mem.get());
    uint64_t v = 0;
    ASSERT_TRUE(reader.lookup(2, tenant_for(2, 2), &v));
    EXPECT_EQ(v, 11u);
    EXPECT_EQ(reader.count(), 1u);
}

TEST(VersionTable, RefusesNewKeysBeyondMaxEntries) {
    constexpr uint32_t kMax = 10;
    TableMemory mem(kMax);
    VersionTable t = VersionTable::create(mem.get(), kMax);
    for (uint32_t i = 0; i < kMax; i++)
        ASSERT_TRUE(t.store(i % 3, tenant_for(i % 3, i), 1, 0)) << i;
    EXPECT_EQ(t.count(), kMax);

    EXPECT_FALSE(t.store(0, tenant_for(0, 1000), 1, 0));
    EXPECT_FALSE(t.store(99, TenantId::all(), 1, 0));
    EXPECT_EQ(t.count(), kMax);
    uint64_t v = 0;
    EXPECT_FALSE(t.lookup(0, tenant_for(0, 1000), &v));

    for (uint32_t i = 0; i < kMax; i++)
        ASSERT_TRUE(t.store(i % 3, tenant_for(i % 3, i), 100 + i, 5)) << "update " << i;
    for (uint32_t i = 0; i < kMax; i++) {
        ASSERT_TRUE(t.lookup(i % 3, tenant_for(i % 3, i), &v));
        EXPECT_EQ(v, 100u + i);
    }
    EXPECT_EQ(t.count(), kMax);
}

TEST(VersionTable, ZeroCapacityRefusesEverything) {
    TableMemory mem(0);
    VersionTable t = VersionTable::create(mem.get(), 0);
    EXPECT_FALSE(t.store(1, TenantId::all(), 1, 0));
    uint64_t v;
    EXPECT_FALSE(t.lookup(1, TenantId::all(), &v));
}

TEST(VersionTable, ForEachVisitsEveryEntryOnce) {
    constexpr uint32_t kKeys = 1000;
    TableMemory mem(kKeys);
    VersionTable t = VersionTable::create(mem.get(), kKeys);
    std::map<Key, uint64_t> expected;
    for (uint32_t i = 0; i < kKeys; i++) {
        uint32_t domain = i % 7;
        ASSERT_TRUE(t.store(domain, tenant_for(domain, i), i * 3 + 1, int64_t(i)));
        expected[{domain, i}] = i * 3 + 1;
    }

    std::map<Key, uint64_t> seen;
    uint64_t calls = 0;
    t.for_each([&](uint32_t domain, const TenantId &tenant, uint64_t version, int64_t modified) {
        calls++;
        uint32_t n;
        std::memcpy(&n, tenant.bytes + 8, 4);
        EXPECT_TRUE(tenant_consistent(domain, tenant));
        EXPECT_EQ(modified, int64_t(n));
        seen[{domain, n}] = version;
    });
    EXPECT_EQ(calls, kKeys);
    EXPECT_EQ(seen, expected);
}

TEST(VersionTable, LookupFindsEveryKeyAtFullLoad) {
    constexpr uint32_t kKeys = 4096;
    TableMemory mem(kKeys);
    VersionTable t = VersionTable::create(mem.get(), kKeys);
    for (uint32_t i = 0; i < kKeys; i++)
        ASSERT_TRUE(t.store(i & 1, tenant_for(i & 1, i), i + 1, 0));
    for (uint32_t i = 0; i < kKeys; i++) {
        uint64_t v = 0;
        ASSERT_TRUE(t.lookup(i & 1, tenant_for(i & 1, i), &v)) << i;
        EXPECT_EQ(v, i + 1);
        EXPECT_FALSE(t.lookup((i & 1) ^ 1, tenant_for(i & 1, i), &v));
    }
}

// One writer inserts keys and bumps their versions; readers look keys up and
// walk the table at the same time. A reader must never see a version go
// backwards, a last_modified older than the version it came with, or a tenant
// that was not written whole.
TEST(VersionTableConcurrency, ReadersSeeMonotonicVersionsAndWholeKeys) {
    constexpr uint32_t kKeys = 8192;
    constexpr uint32_t kRounds = 200;
    constexpr uint32_t kReaders = 2;
    TableMemory mem(kKeys);
    VersionTable t = VersionTable::create(mem.get(), kKeys);
    std::atomic<bool> done{false};
    std::atomic<uint32_t> inserted{0};

    auto domain_of = [](uint32_t i) { return i % 13; };

    std::thread writer([&] {
        for (uint32_t round = 1; round <= kRounds; round++) {
            for (uint32_t i = 0; i < kKeys; i++) {
                uint32_t d = domain_of(i);
                uint64_t version = uint64_t(round) * kKeys + i;
                if (!t.store(d, tenant_for(d, i), version, int64_t(version) * 10))
                    ADD_FAILURE() << "store refused key " << i;
                if (round == 1)
                    inserted.store(i + 1, std::memory_order_release);
            }
        }
        done.store(true, std::memory_order_release);
    });

    struct ReaderStats {
        uint64_t lookups = 0;
        uint64_t hits = 0;
        uint64_t went_back = 0;
        uint64_t stale_modified = 0;
        uint64_t missing = 0;
        uint64_t torn = 0;
        uint64_t walks = 0;
    };
    std::vector<ReaderStats> stats(kReaders);
    std::vector<std::thread> readers;
    for (uint32_t r = 0; r < kReaders; r++)
        readers.emplace_back([&, r] {
            ReaderStats &s = stats[r];
            std::vector<uint64_t> last(kKeys, 0);
            std::mt19937 rng(r + 1);
            do {
                for (int k = 0; k < 2048; k++) {
                    uint32_t known = inserted.load(std::memory_order_acquire);
                    uint32_t i = rng() % kKeys;
                    uint32_t d = domain_of(i);
                    uint64_t v = 0;
                    int64_t modified = 0;
                    s.lookups++;
                    if (!t.lookup(d, tenant_for(d, i), &v, &modified)) {
                        if (i < known)
                            s.missing++;
                        continue;
                    }
                    s.hits++;
                    if (v < last[i] || v < kKeys)
                        s.went_back++;
                    if (modified < int64_t(v) * 10)
                        s.stale_modified++;
                    last[i] = v;
                }
                s.walks++;
                t.for_each([&](uint32_t d, const TenantId &tenant, uint64_t v, int64_t modified) {
                    uint32_t i;
                    std::memcpy(&i, tenant.bytes + 8, 4);
                    if (d >= 13 || !tenant_consistent(d, tenant) || i >= kKeys ||
                        domain_of(i) != d) {
                        s.torn++;
                        return;
                    }
                    if (modified < int64_t(v) * 10)
                        s.stale_modified++;
                    if (v < last[i] || v < kKeys)
                        s.went_back++;
                    else
                        last[i] = v;
                });
            } while (!done.load(std::memory_order_acquire));
        });

    writer.join();
    for (auto &th : readers)
        th.join();

    EXPECT_EQ(t.count(), kKeys);
    for (uint32_t r = 0; r < kReaders; r++) {
        const ReaderStats &s = stats[r];
        EXPECT_GT(s.hits, 0u);
        EXPECT_EQ(s.went_back, 0u) << "reader " << r;
        EXPECT_EQ(s.stale_modified, 0u) << "reader " << r;
        EXPECT_EQ(s.missing, 0u) << "reader " << r;
        EXPECT_EQ(s.torn, 0u) << "reader " << r;
    }
    for (uint32_t i = 0; i < kKeys; i++) {
        uint64_t v = 0;
        ASSERT_TRUE(t.lookup(domain_of(i), tenant_for(domain_of(i), i), &v));
        EXPECT_EQ(v, uint64_t(kRounds) * kKeys + i);
    }
}
