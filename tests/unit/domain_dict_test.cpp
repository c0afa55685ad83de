#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_fraiseql_cache/domain_dict.hpp"
#include "pg_fraiseql_cache/pair.hpp"

using namespace fraiseql_cache;

namespace {

class DictMemory {
  public:
    explicit DictMemory(uint64_t max_count) : bytes_(DomainDict::bytes_needed(max_count)) {
        memory_ = ::operator new(bytes_, std::align_val_t(64));
        std::memset(memory_, 0xC3, bytes_);
    }
    ~DictMemory() { ::operator delete(memory_, std::align_val_t(64)); }
    DictMemory(const DictMemory &) = delete;
    DictMemory &operator=(const DictMemory &) = delete;
    void *get() const { return memory_; }

  private:
    std::size_t bytes_;
    void *memory_;
};

int32_t insert(DomainDict &d, const std::string &s) { return d.find_or_insert(s.data(), s.size()); }
int32_t find(const DomainDict &d, const std::string &s) { return d.find(s.data(), s.size()); }

std::string domain(int i) { return "domain_" + std::to_string(i); }

}  // namespace

TEST(DomainName, FromCopiesAndPadsWithZeros) {
    DomainName n;
    std::memset(&n, 'x', sizeof n);
    ASSERT_TRUE(DomainName::from("users", 5, &n));
    EXPECT_EQ(n.length(), 5u);
    EXPECT_STREQ(n.bytes, "users");
    for (std::size_t i = 5; i < sizeof n.bytes; i++)
        EXPECT_EQ(n.bytes[i], '\0') << i;
    EXPECT_TRUE(n.equals("users", 5));
    EXPECT_FALSE(n.equals("user", 4));
    EXPECT_FALSE(n.equals("users2", 6));
    EXPECT_FALSE(n.equals("Users", 5));
}

TEST(DomainName, FromUsesLengthNotTerminator) {
    DomainName n;
    ASSERT_TRUE(DomainName::from("orders_archive", 6, &n));
    EXPECT_TRUE(n.equals("orders", 6));
    EXPECT_EQ(n.length(), 6u);
}

TEST(DomainName, FromRefusesEmptyAndTooLongAndLeavesOutputUntouched) {
    DomainName n;
    ASSERT_TRUE(DomainName::from("keep", 4, &n));
    EXPECT_FALSE(DomainName::from("", 0, &n));
    std::string too_long(kDomainMaxBytes + 1, 'a');
    EXPECT_FALSE(DomainName::from(too_long.data(), too_long.size(), &n));
    EXPECT_TRUE(n.equals("keep", 4));

    std::string longest(kDomainMaxBytes, 'z');
    ASSERT_TRUE(DomainName::from(longest.data(), longest.size(), &n));
    EXPECT_EQ(n.length(), kDomainMaxBytes);
    EXPECT_EQ(n.bytes[kDomainMaxBytes], '\0');
    EXPECT_TRUE(n.equals(longest.data(), longest.size()));
}

TEST(HashBytes, DependsOnContentLengthAndSeed) {
    EXPECT_EQ(hash_bytes("abc", 3), hash_bytes("abc", 3));
    EXPECT_NE(hash_bytes("abc", 3), hash_bytes("abd", 3));
    EXPECT_NE(hash_bytes("abc", 3), hash_bytes("abc", 2));
    EXPECT_NE(hash_bytes("abc", 3, 0), hash_bytes("abc", 3, 1));
    EXPECT_NE(hash_bytes("", 0), hash_bytes("\0", 1));
}

TEST(HashBytes, DomainNamesSpreadOverBuckets) {
    constexpr int kNames = 10000;
    constexpr uint64_t kBuckets = 16384;
    std::set<uint64_t> buckets;
    std::set<uint32_t> hashes32;
    for (int i = 0; i < kNames; i++) {
        std::string s = domain(i);
        uint64_t h = hash_bytes(s.data(), s.size());
        buckets.insert(h & (kBuckets - 1));
        hashes32.insert(uint32_t(h));
    }
    // A uniform hash fills kBuckets * (1 - e^(-n / kBuckets)) buckets.
    double expected = kBuckets * (1.0 - std::exp(-double(kNames) / kBuckets));
    EXPECT_GT(double(buckets.size()), 0.9 * expected);
    EXPECT_GE(hashes32.size(), std::size_t(kNames - 2));
}

TEST(DomainDict, CreateFormatsMemory) {
    DictMemory mem(16);
    DomainDict d = DomainDict::create(mem.get(), 16);
    EXPECT_EQ(d.count(), 0u);
    EXPECT_EQ(d.max_count(), 16u);
    EXPECT_FALSE(d.full());
    EXPECT_EQ(find(d, "users"), DomainDict::kNotFound);
    int visited = 0;
    d.for_each([&](int32_t) { visited++; });
    EXPECT_EQ(visited, 0);
}

TEST(DomainDict, InsertThenFind) {
    DictMemory mem(16);
    DomainDict d = DomainDict::create(mem.get(), 16);
    int32_t users = insert(d, "users");
    ASSERT_NE(users, DomainDict::kNotFound);
    EXPECT_GE(users, 0);
    EXPECT_EQ(find(d, "users"), users);
    EXPECT_EQ(d.count(), 1u);
    EXPECT_TRUE(d.name(users).equals("users", 5));
    EXPECT_EQ(d.name_length(users), 5u);

    EXPECT_EQ(find(d, "user"), DomainDict::kNotFound);
    EXPECT_EQ(find(d, "users_x"), DomainDict::kNotFound);
    int32_t user = insert(d, "user");
    ASSERT_NE(user, DomainDict::kNotFound);
    EXPECT_NE(user, users);
    EXPECT_EQ(find(d, "user"), user);
    EXPECT_EQ(find(d, "users"), users);
    EXPECT_EQ(d.count(), 2u);
}

TEST(DomainDict, IdsAreStable) {
    constexpr int kNames = 200;
    DictMemory mem(kNames);
    DomainDict d = DomainDict::create(mem.get(), kNames);
    std::map<std::string, int32_t> ids;
    std::set<int32_t> distinct;
    for (int i = 0; i < kNames; i++) {
        int32_t id = insert(d, domain(i));
        ASSERT_NE(id, DomainDict::kNotFound) << i;
        ids[domain(i)] = id;
        distinct.insert(id);
        for (int j = 0; j <= i; j += 17)
            ASSERT_EQ(find(d, domain(j)), ids[domain(j)]) << "after inserting " << i;
    }
    EXPECT_EQ(distinct.size(), std::size_t(kNames));
    for (int i = kNames - 1; i >= 0; i--) {
        EXPECT_EQ(insert(d, domain(i)), ids[domain(i)]);
        EXPECT_EQ(find(d, domain(i)), ids[domain(i)]);
        EXPECT_TRUE(d.name(ids[domain(i)]).equals(domain(i).data(), domain(i).size()));
    }
    EXPECT_EQ(d.count(), uint64_t(kNames));

    DomainDict other = DomainDict::attach(mem.get());
    for (int i = 0; i < kNames; i++)
        EXPECT_EQ(find(other, domain(i)), ids[domain(i)]);
}

TEST(DomainDict, RefusesInvalidNames) {
    DictMemory mem(8);
    DomainDict d = DomainDict::create(mem.get(), 8);
    EXPECT_EQ(d.find_or_insert("", 0), DomainDict::kNotFound);
    std::string too_long(kDomainMaxBytes + 1, 'q');
    EXPECT_EQ(insert(d, too_long), DomainDict::kNotFound);
    std::string much_too_long(500, 'q');
    EXPECT_EQ(insert(d, much_too_long), DomainDict::kNotFound);
    EXPECT_EQ(find(d, too_long), DomainDict::kNotFound);
    EXPECT_EQ(d.count(), 0u);

    std::string longest(kDomainMaxBytes, 'q');
    int32_t id = insert(d, longest);
    ASSERT_NE(id, DomainDict::kNotFound);
    EXPECT_EQ(d.name_length(id), kDomainMaxBytes);
    EXPECT_EQ(find(d, longest), id);
    EXPECT_EQ(find(d, too_long), DomainDict::kNotFound);
    EXPECT_EQ(insert(d, too_long), DomainDict::kNotFound);
    EXPECT_EQ(d.count(), 1u);
}

TEST(DomainDict, FullDictionaryRefusesNewNamesButFindsOldOnes) {
    constexpr int kMax = 8;
    DictMemory mem(kMax);
    DomainDict d = DomainDict::create(mem.get(), kMax);
    std::vector<int32_t> ids;
    for (int i = 0; i < kMax; i++) {
        ids.push_back(insert(d, domain(i)));
        ASSERT_NE(ids.back(), DomainDict::kNotFound);
    }
    EXPECT_TRUE(d.full());
    EXPECT_EQ(insert(d, "one_too_many"), DomainDict::kNotFound);
    EXPECT_EQ(find(d, "one_too_many"), DomainDict::kNotFound);
    EXPECT_EQ(d.count(), uint64_t(kMax));
    for (int i = 0; i < kMax; i++) {
        EXPECT_EQ(insert(d, domain(i)), ids[i]);
        EXPECT_EQ(find(d, domain(i)), ids[i]);
    }
}

TEST(DomainDict, FlagsSetAndGet) {
    DictMemory mem(8);
    DomainDict d = DomainDict::create(mem.get(), 8);
    int32_t a = insert(d, "settings");
    int32_t b = insert(d, "orders");
    EXPECT_EQ(d.flags(a), 0u);
    EXPECT_EQ(d.flags(b), 0u);
    d.set_flags(a, kDomainGlobal);
    EXPECT_EQ(d.flags(a), uint32_t(kDomainGlobal));
    EXPECT_EQ(d.flags(b), 0u);
    EXPECT_EQ(insert(d, "settings"), a);
    EXPECT_EQ(d.flags(a), uint32_t(kDomainGlobal)) << "re-inserting must not reset flags";
    d.set_flags(a, 0);
    EXPECT_EQ(d.flags(a), 0u);
    EXPECT_TRUE(d.name(a).equals("settings", 8));
}

TEST(DomainDict, ForEachVisitsEveryUsedSlotInOrder) {
    constexpr int kNames = 50;
    DictMemory mem(kNames);
    DomainDict d = DomainDict::create(mem.get(), kNames);
    std::set<int32_t> inserted;
    for (int i = 0; i < kNames; i++)
        inserted.insert(insert(d, domain(i)));

    std::vector<int32_t> visited;
    d.for_each([&](int32_t id) { visited.push_back(id); });
    EXPECT_EQ(visited.size(), std::size_t(kNames));
    EXPECT_TRUE(std::is_sorted(visited.begin(), visited.end()));
    EXPECT_EQ(std::set<int32_t>(visited.begin(), visited.end()), inserted);
}

// Readers look names up while the writer inserts them: a found id must name
// exactly the name that was looked up, and once found, a name stays found.
TEST(DomainDictConcurrency, ReadersNeverSeeAPartialName) {
    constexpr int kNames = 4000;
    DictMemory mem(kNames);
    DomainDict d = DomainDict::create(mem.get(), kNames);
    std::atomic<bool> done{false};
    std::thread writer([&] {
        for (int i = 0; i < kNames; i++)
            if (insert(d, domain(i)) == DomainDict::kNotFound)
                ADD_FAILURE() << "insert " << i;
        done.store(true, std::memory_order_release);
    });

    uint64_t wrong = 0;
    uint64_t lost = 0;
    uint64_t hits = 0;
    std::vector<int32_t> seen(kNames, DomainDict::kNotFound);
    do {
        for (int i = 0; i < kNames; i += 7) {
            std::string s = domain(i);
            int32_t id = find(d, s);
            if (id == DomainDict::kNotFound) {
                if (seen[i] != DomainDict::kNotFound)
                    lost++;
                continue;
            }
            hits++;
            if ((seen[i] != DomainDict::kNotFound && seen[i] != id) ||
                !d.name(id).equals(s.data(), s.size()) || d.name_length(id) != s.size())
                wrong++;
            seen[i] = id;
        }
    } while (!done.load(std::memory_order_acquire));
    writer.join();

    EXPECT_GT(hits, 0u);
    EXPECT_EQ(wrong, 0u);
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(d.count(), uint64_t(kNames));
}
