// RecentRing: the single-writer ring of recent bumps behind
// fraiseql_cache.v_recent_invalidations. Readers copy entries without locks;
// each entry's position is its sequence lock.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "pg_fraiseql_cache/atomics.hpp"
#include "pg_fraiseql_cache/pair.hpp"
#include "pg_fraiseql_cache/recent_ring.hpp"

using namespace fraiseql_cache;

namespace {

// Ring memory as shared memory would hand it over: aligned, not zeroed.
class RecentMemory {
  public:
    explicit RecentMemory(uint64_t capacity) : bytes_(RecentRing::bytes_needed(capacity)) {
        memory_ = ::operator new(bytes_, std::align_val_t(64));
        std::memset(memory_, 0xA5, bytes_);
    }
    ~RecentMemory() { ::operator delete(memory_, std::align_val_t(64)); }
    RecentMemory(const RecentMemory &) = delete;
    RecentMemory &operator=(const RecentMemory &) = delete;
    void *get() const { return memory_; }

    // The entry array, laid out right after the header (recent_ring.hpp).
    RecentEntry *entries() const {
        return reinterpret_cast<RecentEntry *>(static_cast<char *>(memory_) +
                                               sizeof(RecentRingHeader));
    }

  private:
    std::size_t bytes_;
    void *memory_;
};

uint32_t mix32(uint64_t x, uint64_t salt) {
    uint64_t h = hash_bytes(&x, sizeof x, salt);
    return uint32_t(h ^ (h >> 32));
}

// A bump whose every field is derived from `seq`, with a checksum over the
// others in `sources`: a copy mixing two bumps (torn read) fails check().
RecentBump make_bump(uint64_t seq) {
    RecentBump b{};
    b.at = int64_t(seq * 1000003ULL + 17);
    for (int i = 0; i < 4; i++) {
        uint32_t w = mix32(seq, uint64_t(i) + 1);
        std::memcpy(b.tenant.bytes + 4 * i, &w, 4);
    }
    // A domain of varying length (1..63 bytes), every byte depending on seq.
    std::size_t len = 1 + seq % kDomainMaxBytes;
    char name[kDomainMaxBytes];
    for (std::size_t i = 0; i < len; i++)
        name[i] = char('a' + (mix32(seq, 100 + i) % 26));
    EXPECT_TRUE(DomainName::from(name, len, &b.domain));
    b.version = seq;
    b.transactions = uint32_t(seq * 7 + 1);
    uint64_t sum = hash_bytes(&b.at, sizeof b.at, 1) ^ hash_bytes(b.tenant.bytes, 16, 2) ^
                   hash_bytes(b.domain.bytes, sizeof b.domain.bytes, 3) ^
                   hash_bytes(&b.version, sizeof b.version, 4) ^
                   hash_bytes(&b.transactions, sizeof b.transactions, 5);
    b.sources = uint32_t(sum ^ (sum >> 32));
    return b;
}

// True when `b` is exactly the bump make_bump(b.version) produced.
bool check(const RecentBump &b) {
    RecentBump expected = make_bump(b.version);
    return std::memcmp(&expected, &b, sizeof b) == 0;
}

std::vector<RecentBump> read_all(const RecentRing &ring, uint64_t limit) {
    std::vector<RecentBump> out;
    ring.for_each_recent(limit, [&](const RecentBump &b) { out.push_back(b); });
    return out;
}

std::vector<uint64_t> versions_of(const std::vector<RecentBump> &bumps) {
    std::vector<uint64_t> out;
    for (const RecentBump &b : bumps)
        out.push_back(b.version);
    return out;
}

}  // namespace

TEST(RecentRing, BytesNeeded) {
    EXPECT_EQ(RecentRing::bytes_needed(0), sizeof(RecentRingHeader));
    EXPECT_EQ(RecentRing::bytes_needed(16), sizeof(RecentRingHeader) + 16 * sizeof(RecentEntry));
}

TEST(RecentRing, EmptyRingYieldsNothing) {
    RecentMemory mem(8);
    RecentRing ring = RecentRing::create(mem.get(), 8);
    EXPECT_EQ(ring.capacity(), 8u);
    EXPECT_TRUE(read_all(ring, 100).empty());
    EXPECT_TRUE(read_all(ring, 0).empty());
    EXPECT_TRUE(read_all(RecentRing::attach(mem.get()), 100).empty());
}

TEST(RecentRing, NewestFirst) {
    RecentMemory mem(8);
    RecentRing ring = RecentRing::create(mem.get(), 8);
    for (uint64_t s = 1; s <= 5; s++)
        ring.push(make_bump(s));
    std::vector<RecentBump> got = read_all(ring, 100);
    EXPECT_EQ(versions_of(got), (std::vector<uint64_t>{5, 4, 3, 2, 1}));
    for (const RecentBump &b : got)
        EXPECT_TRUE(check(b)) << "bump " << b.version << " not copied intact";
}

TEST(RecentRing, LimitKeepsTheNewest) {
    RecentMemory mem(8);
    RecentRing ring = RecentRing::create(mem.get(), 8);
    for (uint64_t s = 1; s <= 6; s++)
        ring.push(make_bump(s));
    EXPECT_EQ(versions_of(read_all(ring, 3)), (std::vector<uint64_t>{6, 5, 4}));
    EXPECT_EQ(versions_of(read_all(ring, 1)), (std::vector<uint64_t>{6}));
    EXPECT_TRUE(read_all(ring, 0).empty());
    EXPECT_EQ(read_all(ring, 6).size(), 6u);
    EXPECT_EQ(read_all(ring, 7).size(), 6u);
}

TEST(RecentRing, WrapAroundKeepsOnlyTheLastCapacity) {
    const uint64_t capacity = 8;
    RecentMemory mem(capacity);
    RecentRing ring = RecentRing::create(mem.get(), capacity);
    for (uint64_t s = 0; s < 3 * capacity + 3; s++) {
        ring.push(make_bump(s));
        std::vector<uint64_t> got = versions_of(read_all(ring, 1000));
        std::vector<uint64_t> expected;
        for (uint64_t v = s + 1; v-- > 0 && expected.size() < capacity;)
            expected.push_back(v);
        ASSERT_EQ(got, expected) << "after pushing bump " << s;
    }
    // Limits below and at capacity after wrapping.
    EXPECT_EQ(versions_of(read_all(ring, 2)), (std::vector<uint64_t>{26, 25}));
    EXPECT_EQ(read_all(ring, capacity).size(), capacity);
    for (const RecentBump &b : read_all(ring, capacity))
        EXPECT_TRUE(check(b));
}

TEST(RecentRing, CapacityOneHoldsTheLatest) {
    RecentMemory mem(1);
    RecentRing ring = RecentRing::create(mem.get(), 1);
    ring.push(make_bump(10));
    ring.push(make_bump(11));
    EXPECT_EQ(versions_of(read_all(ring, 5)), (std::vector<uint64_t>{11}));
}

TEST(RecentRing, AttachSeesTheSameBumps) {
    RecentMemory mem(4);
    RecentRing writer = RecentRing::create(mem.get(), 4);
    writer.push(make_bump(1));
    writer.push(make_bump(2));
    RecentRing reader = RecentRing::attach(mem.get());
    EXPECT_EQ(reader.capacity(), 4u);
    EXPECT_EQ(versions_of(read_all(reader, 10)), (std::vector<uint64_t>{2, 1}));
}

// An entry the writer is in the middle of (position marked invalid), or one
// whose position is not the one the reader expects, is skipped, not copied.
TEST(RecentRing, EntryBeingWrittenOrStaleIsSkipped) {
    RecentMemory mem(4);
    RecentRing ring = RecentRing::create(mem.get(), 4);
    for (uint64_t s = 0; s < 4; s++)
        ring.push(make_bump(s));
    RecentEntry *entries = mem.entries();
    ASSERT_EQ(entries[2].position, 2u);

    atomics::store_release(&entries[2].position, RecentRing::kInvalid);
    EXPECT_EQ(versions_of(read_all(ring, 10)), (std::vector<uint64_t>{3, 1, 0}));

    // Position 2 + capacity: a newer lap than the header announces.
    atomics::store_release(&entries[2].position, uint64_t(6));
    EXPECT_EQ(versions_of(read_all(ring, 10)), (std::vector<uint64_t>{3, 1, 0}));

    atomics::store_release(&entries[2].position, uint64_t(2));
    EXPECT_EQ(versions_of(read_all(ring, 10)), (std::vector<uint64_t>{3, 2, 1, 0}));
}

// One writer pushes as fast as it can while readers copy: every accepted
// copy is one bump exactly as pushed (no torn read), and within one pass the
// positions strictly decrease (newest first), lie within what was written,
// and the newest one seen never goes backwards from pass to pass.
TEST(RecentRing, ConcurrentReadersSeeOnlyIntactBumps) {
    for (uint64_t capacity : {uint64_t(2), uint64_t(8), uint64_t(64)}) {
        SCOPED_TRACE("capacity " + std::to_string(capacity));
        RecentMemory mem(capacity);
        RecentRing writer = RecentRing::create(mem.get(), capacity);
        // Bumps fully pushed so far (the writer's own count, after push()).
        uint64_t written = 0;
        std::atomic<bool> stop{false};
        const auto run_for = std::chrono::milliseconds(300);

        struct ReaderResult {
            uint64_t passes = 0, accepted = 0, torn = 0, out_of_order = 0, out_of_range = 0,
                     went_back = 0, too_many = 0;
            std::string first_problem;
        };
        const int kReaders = 2;
        std::vector<ReaderResult> results(kReaders);
        std::vector<std::thread> readers;
        for (int r = 0; r < kReaders; r++)
            readers.emplace_back([&, r] {
                ReaderResult &res = results[r];
                RecentRing ring = RecentRing::attach(mem.get());
                uint64_t newest_seen = 0;
                bool any = false;
                auto problem = [&](uint64_t &counter, const std::string &what) {
                    counter++;
                    if (res.first_problem.empty())
                        res.first_problem = what;
                };
                do {
                    uint64_t before = atomics::load_acquire(&written);
                    uint64_t previous = UINT64_MAX;
                    uint64_t in_pass = 0;
                    bool first = true;
                    ring.for_each_recent(capacity, [&](const RecentBump &b) {
                        in_pass++;
                        res.accepted++;
                        if (!check(b)) {
                            problem(res.torn, "torn copy claiming version " +
                                                  std::to_string(b.version));
                            return;
                        }
                        if (b.version >= previous)
                            problem(res.out_of_order, "version " + std::to_string(b.version) +
                                                          " after " + std::to_string(previous) +
                                                          " in one pass");
                        previous = b.version;
                        // Positions the reader may have started from: at
                        // least `before` bumps were pushed, and it reads
                        // at most `capacity` back from its start.
                        if (b.version + capacity < before)
                            problem(res.out_of_range,
                                    "version " + std::to_string(b.version) +
                                        " older than the last capacity before the pass (" +
                                        std::to_string(before) + " written)");
                        if (first) {
                            first = false;
                            if (any && b.version < newest_seen)
                                problem(res.went_back, "newest " + std::to_string(b.version) +
                                                           " after newest " +
                                                           std::to_string(newest_seen));
                            if (!any || b.version > newest_seen)
                                newest_seen = b.version;
                            any = true;
                        }
                    });
                    uint64_t after = atomics::load_acquire(&written);
                    // Everything copied was pushed: the writer publishes the
                    // header position before counting, so at most one beyond.
                    if (previous != UINT64_MAX && newest_seen > after)
                        problem(res.out_of_range, "version " + std::to_string(newest_seen) +
                                                      " beyond what was written (" +
                                                      std::to_string(after) + ")");
                    if (in_pass > capacity)
                        problem(res.too_many, std::to_string(in_pass) + " bumps in one pass");
                    res.passes++;
                } while (!stop.load(std::memory_order_acquire));
            });

        const auto deadline = std::chrono::steady_clock::now() + run_for;
        uint64_t seq = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            for (int k = 0; k < 256; k++) {
                writer.push(make_bump(seq));
                seq++;
                atomics::store_release(&written, seq);
            }
        }
        stop.store(true, std::memory_order_release);
        for (auto &t : readers)
            t.join();

        uint64_t accepted = 0;
        for (int r = 0; r < kReaders; r++) {
            const ReaderResult &res = results[r];
            SCOPED_TRACE("reader " + std::to_string(r) + ": " + std::to_string(res.passes) +
                         " passes, " + std::to_string(res.accepted) + " copies accepted");
            EXPECT_EQ(res.torn, 0u) << res.first_problem;
            EXPECT_EQ(res.out_of_order, 0u) << res.first_problem;
            EXPECT_EQ(res.out_of_range, 0u) << res.first_problem;
            EXPECT_EQ(res.went_back, 0u) << res.first_problem;
            EXPECT_EQ(res.too_many, 0u) << res.first_problem;
            EXPECT_GT(res.passes, 0u);
            accepted += res.accepted;
        }
        EXPECT_GT(seq, capacity) << "the writer must wrap around";
        EXPECT_GT(accepted, 0u) << "the readers never accepted a copy";

        // Quiescent: the last `capacity` bumps, intact, newest first.
        std::vector<RecentBump> last = read_all(writer, capacity);
        ASSERT_EQ(last.size(), capacity);
        for (uint64_t i = 0; i < capacity; i++) {
            EXPECT_EQ(last[i].version, seq - 1 - i);
            EXPECT_TRUE(check(last[i]));
        }
    }
}
