// Bounded multi-producer, single-consumer ring of (tenant, domain) pairs.
//
// Committing backends are the producers, the worker the only consumer. The
// shape follows sinvaladt.c: a power-of-two buffer indexed by monotonic
// 64-bit positions that never wrap in practice, producers that never wait on
// a slow consumer (a full ring is reported, the caller decides), and a reset
// path outside the ring for what did not fit.
//
// Protocol
//   head   next position to claim. Producers advance it with a CAS, which
//          reserves [head, head + n) for one producer.
//   tail   first position the consumer has not released. A producer may
//          claim position p only while p < tail + capacity, so it never
//          overwrites a slot the consumer still reads.
//   seq    per slot: p + 1 once the producer has written the slot for
//          position p. Producers finish out of order; the consumer reads
//          positions in order and stops at the first slot whose seq is not
//          p + 1 (a leftover value from the previous lap is p + 1 - capacity).
//
// The structure lives in caller-provided memory (PostgreSQL shared memory in
// the server, plain heap memory in tests) and is trivially copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "pg_fraiseql_cache/atomics.hpp"
#include "pg_fraiseql_cache/pair.hpp"

namespace fraiseql_cache {

enum RingSlotFlags : uint32_t {
    kSlotGlobal = 1u << 1,       // the domain is global (tenant is "all")
    kSlotWholeDomain = 1u << 2,  // every known tenant of the domain
    kSlotManual = 1u << 3,       // invalidate() / invalidate_domain(), not a trigger
    // The transaction's one slot of this domain that counts for the
    // all-tenants pair: the count stays exact however the worker splits a
    // transaction's slots into batches.
    kSlotCountsForAll = 1u << 4,
    // A table of the domain was set up, removed or dropped: the worker
    // re-reads the domain's scope and registers it. Bumps nothing itself.
    kSlotRegister = 1u << 5,
};

struct RingSlot {
    uint64_t seq;
    int64_t committed_at;  // TimestampTz of the hand-off, for the lag figure
    uint32_t database;     // database OID of the committing backend
    uint32_t flags;
    TenantId tenant;
    DomainName domain;
};
static_assert(std::is_trivially_copyable_v<RingSlot>);

struct alignas(64) RingHeader {
    uint64_t capacity;
    uint64_t mask;
    alignas(64) uint64_t head;
    alignas(64) uint64_t tail;
    uint64_t high_water;  // largest head - tail seen by a producer
};
static_assert(std::is_trivially_copyable_v<RingHeader>);

class Ring {
  public:
    Ring() = default;
    static bool valid_capacity(uint64_t capacity) {
        return capacity >= 2 && (capacity & (capacity - 1)) == 0;
    }
    static std::size_t bytes_needed(uint64_t capacity) {
        return sizeof(RingHeader) + capacity * sizeof(RingSlot);
    }

    // Formats fresh memory. capacity must satisfy valid_capacity().
    static Ring create(void *memory, uint64_t capacity) {
        auto *header = static_cast<RingHeader *>(memory);
        *header = RingHeader{};
        header->capacity = capacity;
        header->mask = capacity - 1;
        Ring ring(memory);
        for (uint64_t i = 0; i < capacity; i++)
            ring.slots_[i] = RingSlot{};
        return ring;
    }
    static Ring attach(void *memory) { return Ring(memory); }

    uint64_t capacity() const { return header_->capacity; }
    uint64_t head() const { return atomics::load_acquire(&header_->head); }
    uint64_t tail() const { return atomics::load_acquire(&header_->tail); }
    uint64_t high_water() const { return atomics::load_relaxed(&header_->high_water); }

    // Producer: reserves up to `wanted` consecutive positions, as many as are
    // free now. Returns how many were reserved (0 when the ring is full);
    // *first receives the first reserved position.
    uint64_t claim(uint64_t wanted, uint64_t *first) {
        uint64_t head = atomics::load_acquire(&header_->head);
        for (;;) {
            uint64_t tail = atomics::load_acquire(&header_->tail);
            if (tail > head) {
                // head went stale: what was claimed since has been consumed
                // and released. head - tail would wrap and read as "full".
                head = atomics::load_acquire(&header_->head);
                continue;
            }
            uint64_t used = head - tail;
            uint64_t free = used >= header_->capacity ? 0 : header_->capacity - used;
            uint64_t n = wanted < free ? wanted : free;
            if (n == 0)
                return 0;
            if (atomics::compare_exchange(&header_->head, &head, head + n)) {
                atomics::fetch_max(&header_->high_water, used + n);
                *first = head;
                return n;
            }
        }
    }

    // Producer: the slot for a claimed position, to fill before publish().
    RingSlot &slot(uint64_t position) { return slots_[position & header_->mask]; }

    // Producer: makes the filled slot visible. The release store orders the
    // slot's contents before seq, which the consumer reads with acquire.
    void publish(uint64_t position) {
        atomics::store_release(&slot(position).seq, position + 1);
    }

    // Consumer: copies the slot for `position` if its producer has published
    // it. Reading the contents after the acquire load of seq is safe because
    // the producer cannot reuse the slot before release() moves tail past it.
    bool read(uint64_t position, RingSlot *out) const {
        const RingSlot &s = slots_[position & header_->mask];
        if (atomics::load_acquire(&s.seq) != position + 1)
            return false;
        *out = s;
        return true;
    }

    // Consumer: hands every position below `position` back to producers.
    // Release ordering: our reads of those slots happen before a producer's
    // claim (acquire load of tail) lets it overwrite them.
    void release(uint64_t position) { atomics::store_release(&header_->tail, position); }

  private:
    explicit Ring(void *memory)
        : header_(static_cast<RingHeader *>(memory)),
          slots_(reinterpret_cast<RingSlot *>(static_cast<char *>(memory) + sizeof(RingHeader))) {}

    RingHeader *header_ = nullptr;
    RingSlot *slots_ = nullptr;
};

}  // namespace fraiseql_cache
