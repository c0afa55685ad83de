// Process-local set of (domain id, tenant) pairs with a counter per pair.
//
// A committing transaction's dirty pairs (the trigger inserts once per row,
// so this is on the hottest path) and the worker's coalescing of a batch both
// use it. Open addressing, linear probing, doubled at half load; clear()
// keeps the storage, so a backend stops allocating once it has seen its
// largest transaction. Allocation failure throws std::bad_alloc, which the
// PostgreSQL boundary turns into an out-of-memory error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "pg_fraiseql_cache/pair.hpp"

namespace fraiseql_cache {

struct PairKey {
    uint32_t domain_id;
    TenantId tenant;
    friend bool operator==(const PairKey &a, const PairKey &b) {
        return a.domain_id == b.domain_id && a.tenant == b.tenant;
    }
};

class PairSet {
  public:
    struct Slot {
        uint32_t used;
        uint32_t count;
        PairKey key;
        uint32_t tags;  // OR of the tags it was added with
    };

    explicit PairSet(std::size_t initial_slots = 64) : slots_(round_up(initial_slots)) {
        table_.reset(new Slot[slots_]());
    }

    // Adds the pair (count 1) or increments its count. Returns true when the
    // pair is new.
    bool add(uint32_t domain_id, const TenantId &tenant, uint32_t count = 1, uint32_t tags = 0) {
        PairKey key{domain_id, tenant};
        if (size_ != 0 && last_ != nullptr && last_->key == key) {
            last_->count += count;
            last_->tags |= tags;
            return false;
        }
        if ((size_ + 1) * 2 > slots_)
            grow();
        Slot *s = probe(key);
        last_ = s;
        if (s->used) {
            s->count += count;
            s->tags |= tags;
            return false;
        }
        s->used = 1;
        s->count = count;
        s->key = key;
        s->tags = tags;
        size_++;
        return true;
    }

    bool contains(uint32_t domain_id, const TenantId &tenant) const {
        return find(domain_id, tenant) != nullptr;
    }

    // The pair's slot, or nullptr.
    const Slot *find(uint32_t domain_id, const TenantId &tenant) const {
        const Slot *s = const_cast<PairSet *>(this)->probe(PairKey{domain_id, tenant});
        return s->used ? s : nullptr;
    }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::size_t capacity() const { return slots_; }

    // Empties the set without failing (it runs at commit). Storage grown
    // past `keep_slots` is given back when memory allows, so one huge
    // transaction does not pin memory for the rest of the session.
    void clear(std::size_t keep_slots = 4096) noexcept {
        if (size_ == 0 && last_ == nullptr)
            return;
        Slot *smaller = nullptr;
        if (slots_ > round_up(keep_slots))
            smaller = new (std::nothrow) Slot[round_up(keep_slots)]();
        if (smaller != nullptr) {
            table_.reset(smaller);
            slots_ = round_up(keep_slots);
        } else {
            std::memset(static_cast<void *>(table_.get()), 0, slots_ * sizeof(Slot));
        }
        size_ = 0;
        last_ = nullptr;
    }

    // Raw slot access for callers that must walk the set in pieces.
    const Slot &slot_at(std::size_t i) const { return table_[i]; }

    template <typename F>
    void for_each(F &&fn) const {
        for (std::size_t i = 0; i < slots_; i++)
            if (table_[i].used)
                fn(table_[i].key, table_[i].count);
    }

  private:
    static std::size_t round_up(std::size_t n) {
        std::size_t p = 16;
        while (p < n)
            p <<= 1;
        return p;
    }
    Slot *probe(const PairKey &key) {
        std::size_t mask = slots_ - 1;
        for (std::size_t pos = hash_pair(key.domain_id, key.tenant) & mask;;
             pos = (pos + 1) & mask) {
            Slot *s = &table_[pos];
            if (!s->used || s->key == key)
                return s;
        }
    }
    void grow() {
        std::size_t old_slots = slots_;
        std::unique_ptr<Slot[]> old(new Slot[old_slots * 2]());
        old.swap(table_);
        slots_ = old_slots * 2;
        last_ = nullptr;
        for (std::size_t i = 0; i < old_slots; i++)
            if (old[i].used)
                *probe(old[i].key) = old[i];
    }

    std::size_t slots_;
    std::size_t size_ = 0;
    Slot *last_ = nullptr;
    std::unique_ptr<Slot[]> table_;
};

}  // namespace fraiseql_cache
