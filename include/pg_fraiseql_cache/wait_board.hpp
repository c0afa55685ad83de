// Who waits for which ring position (read-your-writes), so the worker wakes
// exactly the committers a batch satisfied, each through its own latch,
// instead of every waiter on one condition variable after every batch.
//
// One entry per PGPROC number: the position the process waits for, 0 when it
// waits for none, with the top bit set when it waits for the position to be
// persisted (released from the ring) rather than published. Only the
// process itself writes its entry.
//
// Ordering (a store then a load on each side, so both need full fences):
//   waiter  stores its position, fence, loads `published`; sleeps if short
//   worker  stores `published`, fence, loads the entries; wakes those due
// At least one side sees the other's store: a waiter either sees its
// position published or is woken. A stale entry (a wake-up on its way as the
// waiter left) costs one spurious latch set, which latch users tolerate.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pg_fraiseql_cache/atomics.hpp"

namespace fraiseql_cache {

class WaitBoard {
  public:
    WaitBoard() = default;
    static std::size_t bytes_needed(std::size_t entries) { return entries * sizeof(uint64_t); }
    static WaitBoard create(void *memory, std::size_t entries) {
        auto *p = static_cast<uint64_t *>(memory);
        for (std::size_t i = 0; i < entries; i++)
            p[i] = 0;
        return WaitBoard(p, entries);
    }
    static WaitBoard attach(void *memory, std::size_t entries) {
        return WaitBoard(static_cast<uint64_t *>(memory), entries);
    }

    std::size_t entries() const { return entries_; }
    // Whether process `procno` has an entry (false: it waits without one,
    // woken by the worker's broadcast).
    bool covers(int procno) const { return procno >= 0 && std::size_t(procno) < entries_; }

    // Waiter: announces the position, then must check `published` (or the
    // ring's tail, for `persisted`).
    void announce(int procno, uint64_t position, bool persisted) {
        atomics::store_relaxed(&slots_[procno], position | (persisted ? kPersistedBit : 0));
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    void withdraw(int procno) { atomics::store_relaxed(&slots_[procno], uint64_t(0)); }

    // Worker, after storing `published` or releasing ring positions: calls
    // wake(procno) for every entry due (persisted <= published).
    template <typename Wake>
    void wake_due(uint64_t published, uint64_t persisted, Wake &&wake) const {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        for (std::size_t i = 0; i < entries_; i++) {
            uint64_t p = atomics::load_relaxed(&slots_[i]);
            if (p == 0)
                continue;
            if ((p & kPersistedBit) ? (p & ~kPersistedBit) <= persisted : p <= published)
                wake(int(i));
        }
    }

    // Whether some process waits for a position to be persisted.
    bool any_persisted() const {
        for (std::size_t i = 0; i < entries_; i++)
            if (atomics::load_relaxed(&slots_[i]) & kPersistedBit)
                return true;
        return false;
    }

  private:
    static constexpr uint64_t kPersistedBit = uint64_t(1) << 63;
    WaitBoard(uint64_t *slots, std::size_t n) : slots_(slots), entries_(n) {}
    uint64_t *slots_ = nullptr;
    std::size_t entries_ = 0;
};

}  // namespace fraiseql_cache
