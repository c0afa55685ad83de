// A bounded ring of the most recent bumps, for fraiseql_cache.v_recent_invalidations.
//
// One writer (the worker) overwrites the oldest entry; readers copy entries
// without locks. Each entry carries the position it was written for, which
// acts as a sequence lock: the writer first marks the entry invalid, writes
// it, then release-stores its position; a reader accepts a copy only if the
// position read before and after copying is the one it expected. Nothing is
// written to WAL: the history is lost at restart, by design.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "pg_fraiseql_cache/atomics.hpp"
#include "pg_fraiseql_cache/pair.hpp"

namespace fraiseql_cache {

enum BumpSource : uint32_t {
    kSourceTrigger = 1u << 0,
    kSourceCascade = 1u << 1,
    kSourceManual = 1u << 2,
    kSourceTruncate = 1u << 3,
    kSourceReset = 1u << 4,
};

struct RecentBump {
    int64_t at;  // TimestampTz of publication
    TenantId tenant;
    DomainName domain;
    uint64_t version;
    uint32_t sources;       // BumpSource bits
    uint32_t transactions;  // committed transactions coalesced into this bump
};
static_assert(std::is_trivially_copyable_v<RecentBump>);

struct RecentEntry {
    uint64_t position;  // kInvalid while being written
    RecentBump bump;
};

struct RecentRingHeader {
    uint64_t capacity;
    uint64_t next;  // position the next bump is written at
};

class RecentRing {
  public:
    static constexpr uint64_t kInvalid = UINT64_MAX;

    RecentRing() = default;
    static std::size_t bytes_needed(uint64_t capacity) {
        return sizeof(RecentRingHeader) + capacity * sizeof(RecentEntry);
    }
    static RecentRing create(void *memory, uint64_t capacity) {
        auto *h = static_cast<RecentRingHeader *>(memory);
        h->capacity = capacity;
        h->next = 0;
        RecentRing r(memory);
        for (uint64_t i = 0; i < capacity; i++) {
            std::memset(static_cast<void *>(&r.entries_[i]), 0, sizeof(RecentEntry));
            r.entries_[i].position = kInvalid;
        }
        return r;
    }
    static RecentRing attach(void *memory) { return RecentRing(memory); }

    uint64_t capacity() const { return header_->capacity; }

    // Writer only.
    void push(const RecentBump &bump) {
        uint64_t p = header_->next;
        RecentEntry &e = entries_[p % header_->capacity];
        atomics::store_release(&e.position, kInvalid);
        // The invalid mark must be visible before any byte of the new bump.
        __atomic_thread_fence(__ATOMIC_RELEASE);
        std::memcpy(static_cast<void *>(&e.bump), &bump, sizeof bump);
        atomics::store_release(&e.position, p);  // publishes the bump
        atomics::store_release(&header_->next, p + 1);
    }

    // Any process: calls fn(bump) for up to `limit` most recent bumps,
    // newest first, skipping entries overwritten while being read.
    template <typename F>
    void for_each_recent(uint64_t limit, F &&fn) const {
        uint64_t next = atomics::load_acquire(&header_->next);
        uint64_t n = next < header_->capacity ? next : header_->capacity;
        if (limit < n)
            n = limit;
        for (uint64_t i = 1; i <= n; i++) {
            uint64_t p = next - i;
            const RecentEntry &e = entries_[p % header_->capacity];
            if (atomics::load_acquire(&e.position) != p)
                continue;
            RecentBump copy;
            std::memcpy(&copy, &e.bump, sizeof copy);
            // The copy must complete before the second look at position.
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (atomics::load_relaxed(&e.position) != p)
                continue;
            fn(copy);
        }
    }

  private:
    explicit RecentRing(void *memory)
        : header_(static_cast<RecentRingHeader *>(memory)),
          entries_(reinterpret_cast<RecentEntry *>(static_cast<char *>(memory) +
                                                   sizeof(RecentRingHeader))) {}

    RecentRingHeader *header_ = nullptr;
    RecentEntry *entries_ = nullptr;
};

}  // namespace fraiseql_cache
