#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "pg_fraiseql_cache/atomics.hpp"
#include "pg_fraiseql_cache/ring.hpp"

using namespace fraiseql_cache;

namespace {

// Ring memory as shared memory would hand it over: aligned, not zeroed.
class RingMemory {
  public:
    explicit RingMemory(uint64_t capacity) : bytes_(Ring::bytes_needed(capacity)) {
        memory_ = ::operator new(bytes_, std::align_val_t(64));
        std::memset(memory_, 0xA5, bytes_);
    }
    ~RingMemory() { ::operator delete(memory_, std::align_val_t(64)); }
    RingMemory(const RingMemory &) = delete;
    RingMemory &operator=(const RingMemory &) = delete;
    void *get() const { return memory_; }

  private:
    std::size_t bytes_;
    void *memory_;
};

uint32_t checksum(uint32_t producer, uint64_t seq) {
    uint64_t h = hash_bytes(&seq, sizeof seq, producer);
    return uint32_t(h ^ (h >> 32));
}

TenantId encode(uint32_t producer, uint64_t seq) {
    TenantId t{};
    uint32_t sum = checksum(producer, seq);
    std::memcpy(t.bytes, &producer, 4);
    std::memcpy(t.bytes + 4, &seq, 8);
    std::memcpy(t.bytes + 12, &sum, 4);
    return t;
}

// Returns false when the tenant was not produced by encode().
bool decode(const TenantId &t, uint32_t *producer, uint64_t *seq) {
    uint32_t sum;
    std::memcpy(producer, t.bytes, 4);
    std::memcpy(seq, t.bytes + 4, 8);
    std::memcpy(&sum, t.bytes + 12, 4);
    return sum == checksum(*producer, *seq);
}

void fill(Ring &ring, uint64_t position, uint32_t producer, uint64_t seq) {
    RingSlot &s = ring.slot(position);
    s.database = producer;
    s.flags = kSlotGlobal;
    s.tenant = encode(producer, seq);
    ASSERT_TRUE(DomainName::from("orders", 6, &s.domain));
}

}  // namespace

TEST(Atomics, CompareExchangeReportsCurrentValueOnFailure) {
    uint64_t v = 5;
    uint64_t expected = 4;
    EXPECT_FALSE(atomics::compare_exchange(&v, &expected, uint64_t(9)));
    EXPECT_EQ(expected, 5u);
    EXPECT_EQ(v, 5u);
    EXPECT_TRUE(atomics::compare_exchange(&v, &expected, uint64_t(9)));
    EXPECT_EQ(v, 9u);
}

TEST(Atomics, FetchAddReturnsPreviousValue) {
    uint32_t v = 7;
    EXPECT_EQ(atomics::fetch_add(&v, 3u), 7u);
    EXPECT_EQ(atomics::load_acquire(&v), 10u);
}

TEST(Atomics, FetchMaxNeverLowersAndKeepsMaximumUnderContention) {
    uint64_t v = 10;
    atomics::fetch_max(&v, uint64_t(3));
    EXPECT_EQ(v, 10u);
    atomics::fetch_max(&v, uint64_t(11));
    EXPECT_EQ(v, 11u);

    uint64_t shared = 0;
    std::vector<std::thread> threads;
    for (uint64_t t = 0; t < 4; t++)
        threads.emplace_back([&shared, t] {
            for (uint64_t i = 0; i < 50000; i++)
                atomics::fetch_max(&shared, i * 4 + t);
        });
    for (auto &th : threads)
        th.join();
    EXPECT_EQ(shared, 49999u * 4 + 3);
}

TEST(Ring, ValidCapacity) {
    EXPECT_FALSE(Ring::valid_capacity(0));
    EXPECT_FALSE(Ring::valid_capacity(1));
    EXPECT_FALSE(Ring::valid_capacity(6));
    EXPECT_TRUE(Ring::valid_capacity(2));
    EXPECT_TRUE(Ring::valid_capacity(1024));
    EXPECT_EQ(Ring::bytes_needed(8), sizeof(RingHeader) + 8 * sizeof(RingSlot));
}

TEST(Ring, CreateFormatsMemoryAndEmptyReadFails) {
    RingMemory mem(8);
    Ring ring = Ring::create(mem.get(), 8);
    EXPECT_EQ(ring.capacity(), 8u);
    EXPECT_EQ(ring.head(), 0u);
    EXPECT_EQ(ring.tail(), 0u);
    EXPECT_EQ(ring.high_water(), 0u);
    RingSlot out;
    for (uint64_t p = 0; p < 16; p++)
        EXPECT_FALSE(ring.read(p, &out)) << "position " << p;
}

TEST(Ring, PublishThenReadInOrder) {
    RingMemory mem(8);
    Ring ring = Ring::create(mem.get(), 8);
    uint64_t first = 99;
    ASSERT_EQ(ring.claim(3, &first), 3u);
    ASSERT_EQ(first, 0u);
    EXPECT_EQ(ring.head(), 3u);
    for (uint64_t k = 0; k < 3; k++) {
        fill(ring, first + k, 1, 100 + k);
        ring.publish(first + k);
    }
    for (uint64_t k = 0; k < 3; k++) {
        RingSlot out;
        ASSERT_TRUE(ring.read(k, &out));
        uint32_t producer;
        uint64_t seq;
        ASSERT_TRUE(decode(out.tenant, &producer, &seq));
        EXPECT_EQ(producer, 1u);
        EXPECT_EQ(seq, 100 + k);
        EXPECT_EQ(out.database, 1u);
        EXPECT_EQ(out.flags, uint32_t(kSlotGlobal));
        EXPECT_TRUE(out.domain.equals("orders", 6));
    }
    RingSlot out;
    EXPECT_FALSE(ring.read(3, &out));
}

TEST(Ring, AttachSeesTheSameRing) {
    RingMemory mem(4);
    Ring producer = Ring::create(mem.get(), 4);
    uint64_t first = 0;
    ASSERT_EQ(producer.claim(1, &first), 1u);
    fill(producer, first, 2, 7);
    producer.publish(first);

    Ring consumer = Ring::attach(mem.get());
    EXPECT_EQ(consumer.capacity(), 4u);
    EXPECT_EQ(consumer.head(), 1u);
    RingSlot out;
    ASSERT_TRUE(consumer.read(0, &out));
    EXPECT_EQ(out.tenant, encode(2, 7));
}

TEST(Ring, ClaimReturnsFewerWhenNearlyFullAndZeroWhenFull) {
    RingMemory mem(8);
    Ring ring = Ring::create(mem.get(), 8);
    uint64_t first = 0;
    EXPECT_EQ(ring.claim(6, &first), 6u);
    EXPECT_EQ(first, 0u);
    EXPECT_EQ(ring.claim(4, &first), 2u);
    EXPECT_EQ(first, 6u);
    first = 12345;
    EXPECT_EQ(ring.claim(1, &first), 0u);
    EXPECT_EQ(first, 12345u) << "a failed claim must not report a position";
    EXPECT_EQ(ring.claim(8, &first), 0u);
    EXPECT_EQ(ring.head(), 8u);
}

TEST(Ring, ClaimOfZeroReservesNothing) {
    RingMemory mem(4);
    Ring ring = Ring::create(mem.get(), 4);
    uint64_t first = 0;
    EXPECT_EQ(ring.claim(0, &first), 0u);
    EXPECT_EQ(ring.head(), 0u);
}

TEST(Ring, ReleaseFreesSpace) {
    RingMemory mem(8);
    Ring ring = Ring::create(mem.get(), 8);
    uint64_t first = 0;
    ASSERT_EQ(ring.claim(8, &first), 8u);
    for (uint64_t p = 0; p < 8; p++) {
        fill(ring, p, 0, p);
        ring.publish(p);
    }
    ASSERT_EQ(ring.claim(1, &first), 0u);

    RingSlot out;
    for (uint64_t p = 0; p < 3; p++)
        ASSERT_TRUE(ring.read(p, &out));
    ring.release(3);
    EXPECT_EQ(ring.tail(), 3u);
    EXPECT_EQ(ring.claim(5, &first), 3u);
    EXPECT_EQ(first, 8u);
    EXPECT_EQ(ring.claim(1, &first), 0u);

    // Positions 3..7 are still unreleased; the new claims must not have
    // disturbed them.
    for (uint64_t p = 3; p < 8; p++) {
        ASSERT_TRUE(ring.read(p, &out)) << p;
        EXPECT_EQ(out.tenant, encode(0, p));
    }
}

TEST(Ring, WrapAroundManyLapsNeverReadsStaleSlot) {
    constexpr uint64_t kCapacity = 8;
    constexpr uint64_t kTotal = kCapacity * 2000;
    RingMemory mem(kCapacity);
    Ring ring = Ring::create(mem.get(), kCapacity);
    std::mt19937 rng(42);
    std::uniform_int_distribution<uint64_t> batch(1, kCapacity);

    uint64_t produced = 0;
    uint64_t consumed = 0;
    while (consumed < kTotal) {
        uint64_t want = batch(rng);
        uint64_t first = 0;
        uint64_t free = kCapacity - (produced - consumed);
        uint64_t got = ring.claim(want, &first);
        ASSERT_EQ(got, std::min(want, free));
        if (got > 0) {
            ASSERT_EQ(first, produced);
        }
        for (uint64_t k = 0; k < got; k++) {
            uint64_t pos = first + k;
            RingSlot out;
            if (pos >= kCapacity) {
                // The slot still holds the previous lap's item.
                ASSERT_EQ(atomics::load_acquire(&ring.slot(pos).seq), pos + 1 - kCapacity);
                ASSERT_FALSE(ring.read(pos, &out)) << "stale slot read at " << pos;
            }
            fill(ring, pos, 3, pos);
            ASSERT_FALSE(ring.read(pos, &out)) << "read before publish at " << pos;
            ring.publish(pos);
            ASSERT_FALSE(ring.read(pos + kCapacity, &out)) << "next lap visible at " << pos;
        }
        produced += got;

        uint64_t take = std::uniform_int_distribution<uint64_t>(0, produced - consumed)(rng);
        for (uint64_t k = 0; k < take; k++) {
            RingSlot out;
            ASSERT_TRUE(ring.read(consumed, &out));
            ASSERT_EQ(out.seq, consumed + 1);
            ASSERT_EQ(out.tenant, encode(3, consumed));
            consumed++;
        }
        ring.release(consumed);
    }
    EXPECT_GT(ring.head(), kCapacity * 1000);
    EXPECT_EQ(ring.tail(), consumed);
}

TEST(Ring, ConsumerStopsAtFirstUnpublishedSlot) {
    RingMemory mem(8);
    Ring ring = Ring::create(mem.get(), 8);
    uint64_t first = 0;
    ASSERT_EQ(ring.claim(5, &first), 5u);
    for (uint64_t p = 0; p < 5; p++)
        fill(ring, p, 4, p);

    auto drain = [&](uint64_t from) {
        RingSlot out;
        uint64_t pos = from;
        while (ring.read(pos, &out)) {
            EXPECT_EQ(out.tenant, encode(4, pos));
            pos++;
        }
        return pos;
    };

    ring.publish(2);
    ring.publish(1);
    ring.publish(4);
    EXPECT_EQ(drain(0), 0u);
    ring.publish(0);
    EXPECT_EQ(drain(0), 3u);
    ring.release(3);
    ring.publish(3);
    EXPECT_EQ(drain(3), 5u);
}

TEST(Ring, HighWaterTracksLargestBacklog) {
    RingMemory mem(16);
    Ring ring = Ring::create(mem.get(), 16);
    uint64_t first = 0;
    ASSERT_EQ(ring.claim(3, &first), 3u);
    EXPECT_EQ(ring.high_water(), 3u);
    ASSERT_EQ(ring.claim(4, &first), 4u);
    EXPECT_EQ(ring.high_water(), 7u);
    for (uint64_t p = 0; p < 7; p++)
        ring.publish(p);
    ring.release(7);
    ASSERT_EQ(ring.claim(2, &first), 2u);
    EXPECT_EQ(ring.high_water(), 7u) << "high water must not drop";
    ASSERT_EQ(ring.claim(16, &first), 14u);
    EXPECT_EQ(ring.high_water(), 16u);
}

namespace {

struct StressResult {
    uint64_t received = 0;
    uint64_t corrupt = 0;
    uint64_t out_of_order = 0;
    uint64_t spurious_full = 0;
    bool timed_out = false;
    std::vector<uint64_t> next_seq;
};

// Producers push per_producer items each in claims of 1..8; one consumer
// thread reads them in position order. When the total fits in the ring, no
// claim may ever come back empty.
StressResult run_stress(uint64_t capacity, uint32_t producers, uint64_t per_producer,
                        uint32_t rng_seed, uint64_t release_every) {
    RingMemory mem(capacity);
    Ring ring = Ring::create(mem.get(), capacity);
    const uint64_t total = producers * per_producer;
    const bool never_full = total <= capacity;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> spurious_full{0};
    StressResult result;
    result.next_seq.assign(producers, 0);

    std::vector<std::thread> threads;
    for (uint32_t p = 0; p < producers; p++)
        threads.emplace_back([&, p] {
            std::mt19937 rng(rng_seed + p);
            std::uniform_int_distribution<uint64_t> size(1, 8);
            uint64_t sent = 0;
            while (sent < per_producer && !stop.load(std::memory_order_relaxed)) {
                uint64_t want = std::min(size(rng), per_producer - sent);
                uint64_t first = 0;
                uint64_t got = ring.claim(want, &first);
                if (got == 0) {
                    if (never_full)
                        spurious_full.fetch_add(1, std::memory_order_relaxed);
                    std::this_thread::yield();
                    continue;
                }
                for (uint64_t k = 0; k < got; k++) {
                    RingSlot &s = ring.slot(first + k);
                    s.database = p;
                    s.flags = 0;
                    s.tenant = encode(p, sent++);
                    DomainName::from("stress", 6, &s.domain);
                    ring.publish(first + k);
                }
            }
        });

    std::thread consumer([&] {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        uint64_t pos = 0;
        uint64_t idle = 0;
        while (pos < total) {
            RingSlot out;
            if (!ring.read(pos, &out)) {
                ring.release(pos);
                if ((++idle & 1023) == 0 && std::chrono::steady_clock::now() > deadline) {
                    result.timed_out = true;
                    break;
                }
                std::this_thread::yield();
                continue;
            }
            uint32_t producer;
            uint64_t seq;
            if (out.seq != pos + 1 || !decode(out.tenant, &producer, &seq) ||
                producer >= producers || out.database != producer ||
                !out.domain.equals("stress", 6)) {
                result.corrupt++;
            } else {
                if (seq != result.next_seq[producer])
                    result.out_of_order++;
                result.next_seq[producer] = seq + 1;
            }
            result.received++;
            pos++;
            if (pos % release_every == 0)
                ring.release(pos);
        }
        ring.release(pos);
        stop.store(true);
    });

    for (auto &t : threads)
        t.join();
    consumer.join();
    result.spurious_full = spurious_full.load();
    return result;
}

}  // namespace

TEST(RingStress, FourProducersOneConsumerDeliverEachItemOnceInOrder) {
    constexpr uint32_t kProducers = 4;
    constexpr uint64_t kPerProducer = 200000;
    StressResult r = run_stress(1024, kProducers, kPerProducer, 7, 16);
    ASSERT_FALSE(r.timed_out) << "received " << r.received;
    EXPECT_EQ(r.received, kProducers * kPerProducer);
    EXPECT_EQ(r.corrupt, 0u);
    EXPECT_EQ(r.out_of_order, 0u);
    for (uint32_t p = 0; p < kProducers; p++)
        EXPECT_EQ(r.next_seq[p], kPerProducer) << "producer " << p;
}

// The ring is larger than everything the producers push, so a claim that
// returns 0 reports a full ring that is not full.
TEST(RingStress, ClaimNeverReportsFullWhileSpaceRemains) {
    constexpr uint32_t kProducers = 4;
    constexpr uint64_t kPerProducer = 8000;
    for (uint32_t round = 0; round < 40; round++) {
        StressResult r = run_stress(1 << 15, kProducers, kPerProducer, 100 + round * 8, 1);
        ASSERT_FALSE(r.timed_out);
        ASSERT_EQ(r.received, kProducers * kPerProducer);
        ASSERT_EQ(r.corrupt, 0u);
        ASSERT_EQ(r.out_of_order, 0u);
        ASSERT_EQ(r.spurious_full, 0u) << "round " << round;
    }
}
