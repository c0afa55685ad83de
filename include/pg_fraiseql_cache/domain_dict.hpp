// Shared-memory dictionary of domain names -> small integer ids.
//
// One writer (the worker) inserts; any process looks names up without a
// lock. Ids are slot indexes, stable for the life of the shared memory
// segment, so the version table keys on 4 bytes instead of a 64-byte name.
// Entries are never removed.
//
// Publication: the writer fills name/len/hash, then release-stores state=1.
// A reader that acquire-loads state==1 sees the complete name. The flags word
// (kDomainGlobal) may change later and is read/written atomically on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "pg_fraiseql_cache/atomics.hpp"
#include "pg_fraiseql_cache/pair.hpp"

namespace fraiseql_cache {

enum DomainFlags : uint32_t {
    kDomainGlobal = 1u << 0,  // one version for all tenants
};

struct DomainSlot {
    uint32_t state;  // 0 empty, 1 used
    uint32_t flags;
    uint32_t hash;
    uint32_t length;
    // Lowest version any tenant of the domain reads (raised by whole-domain
    // bumps, so tenants with no version of their own move too).
    uint64_t floor;
    DomainName name;
};
static_assert(std::is_trivially_copyable_v<DomainSlot>);

struct DomainDictHeader {
    uint64_t slots;      // power of two
    uint64_t max_count;  // at most slots / 2, so probes stay short
    uint64_t count;
};
static_assert(std::is_trivially_copyable_v<DomainDictHeader>);

class DomainDict {
  public:
    DomainDict() = default;
    static constexpr int32_t kNotFound = -1;

    static std::size_t bytes_needed(uint64_t max_count) {
        return sizeof(DomainDictHeader) + slots_for(max_count) * sizeof(DomainSlot);
    }
    static DomainDict create(void *memory, uint64_t max_count) {
        auto *h = static_cast<DomainDictHeader *>(memory);
        h->slots = slots_for(max_count);
        h->max_count = max_count;
        h->count = 0;
        DomainDict d(memory);
        std::memset(static_cast<void *>(d.slots_), 0, h->slots * sizeof(DomainSlot));
        return d;
    }
    static DomainDict attach(void *memory) { return DomainDict(memory); }

    uint64_t count() const { return atomics::load_acquire(&header_->count); }
    uint64_t max_count() const { return header_->max_count; }
    bool full() const { return count() >= header_->max_count; }

    // Any process. Returns the id or kNotFound.
    int32_t find(const char *name, std::size_t len) const {
        uint32_t h = uint32_t(hash_bytes(name, len));
        uint64_t mask = header_->slots - 1;
        for (uint64_t i = 0, pos = h & mask; i < header_->slots; i++, pos = (pos + 1) & mask) {
            const DomainSlot &s = slots_[pos];
            if (atomics::load_acquire(&s.state) == 0)
                return kNotFound;
            if (s.hash == h && s.length == len && std::memcmp(s.name.bytes, name, len) == 0)
                return int32_t(pos);
        }
        return kNotFound;
    }

    // Writer only. Returns the id, or kNotFound when the name is invalid or
    // the dictionary is full.
    int32_t find_or_insert(const char *name, std::size_t len) {
        int32_t id = find(name, len);
        if (id != kNotFound)
            return id;
        if (full() || len == 0 || len > kDomainMaxBytes)
            return kNotFound;
        uint32_t h = uint32_t(hash_bytes(name, len));
        uint64_t mask = header_->slots - 1;
        for (uint64_t pos = h & mask;; pos = (pos + 1) & mask) {
            DomainSlot &s = slots_[pos];
            if (atomics::load_relaxed(&s.state) != 0)
                continue;
            DomainName::from(name, len, &s.name);
            s.hash = h;
            s.length = uint32_t(len);
            atomics::store_relaxed(&s.flags, 0u);
            atomics::store_relaxed(&s.floor, uint64_t(0));
            atomics::store_release(&s.state, 1u);  // publishes name/hash/length
            atomics::store_release(&header_->count, header_->count + 1);
            return int32_t(pos);
        }
    }

    uint32_t flags(int32_t id) const { return atomics::load_acquire(&slots_[id].flags); }
    uint64_t floor(int32_t id) const { return atomics::load_acquire(&slots_[id].floor); }
    // Writer only; floors only rise.
    void raise_floor(int32_t id, uint64_t floor) {
        if (floor > atomics::load_relaxed(&slots_[id].floor))
            atomics::store_release(&slots_[id].floor, floor);
    }
    // Writer only.
    void set_flags(int32_t id, uint32_t flags) { atomics::store_release(&slots_[id].flags, flags); }
    const DomainName &name(int32_t id) const { return slots_[id].name; }
    std::size_t name_length(int32_t id) const { return slots_[id].length; }

    // Ids of all used slots, in slot order.
    template <typename F>
    void for_each(F &&fn) const {
        for (uint64_t i = 0; i < header_->slots; i++)
            if (atomics::load_acquire(&slots_[i].state) == 1)
                fn(int32_t(i));
    }

  private:
    static uint64_t slots_for(uint64_t max_count) {
        uint64_t n = 2;
        while (n < max_count * 2)
            n <<= 1;
        return n;
    }
    explicit DomainDict(void *memory)
        : header_(static_cast<DomainDictHeader *>(memory)),
          slots_(reinterpret_cast<DomainSlot *>(static_cast<char *>(memory) +
                                                sizeof(DomainDictHeader))) {}

    DomainDictHeader *header_ = nullptr;
    DomainSlot *slots_ = nullptr;
};

}  // namespace fraiseql_cache
