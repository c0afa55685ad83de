// Shared-memory table of (domain id, tenant) -> version.
//
// Open addressing with linear probing; one writer (the worker) inserts and
// updates, readers never lock. Entries are never deleted, so a probe that
// reaches an empty slot proves the key absent. Capacity is fixed: insert
// refuses once max_entries keys are present (the caller falls back to the
// persisted table), which keeps the load factor at or below one half.
//
// Publication: a new entry's key, version and last_modified are written
// before the release store of state=1. Later version bumps release-store
// the version after last_modified, so a reader that acquire-loads a version
// sees a last_modified at least as new as that version's commit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "pg_fraiseql_cache/atomics.hpp"
#include "pg_fraiseql_cache/pair.hpp"

namespace fraiseql_cache {

struct VersionEntry {
    uint32_t state;  // 0 empty, 1 used
    uint32_t domain_id;
    TenantId tenant;
    uint64_t version;
    int64_t last_modified;  // TimestampTz of the last bump
};
static_assert(std::is_trivially_copyable_v<VersionEntry>);
static_assert(sizeof(VersionEntry) == 40);

struct VersionTableHeader {
    uint64_t slots;  // power of two, >= 2 * max_entries
    uint64_t max_entries;
    uint64_t count;
};
static_assert(std::is_trivially_copyable_v<VersionTableHeader>);

class VersionTable {
  public:
    VersionTable() = default;
    static std::size_t bytes_needed(uint64_t max_entries) {
        return sizeof(VersionTableHeader) + slots_for(max_entries) * sizeof(VersionEntry);
    }
    static VersionTable create(void *memory, uint64_t max_entries) {
        auto *h = static_cast<VersionTableHeader *>(memory);
        h->slots = slots_for(max_entries);
        h->max_entries = max_entries;
        h->count = 0;
        VersionTable t(memory);
        std::memset(static_cast<void *>(t.entries_), 0, h->slots * sizeof(VersionEntry));
        return t;
    }
    static VersionTable attach(void *memory) { return VersionTable(memory); }

    uint64_t count() const { return atomics::load_acquire(&header_->count); }
    uint64_t max_entries() const { return header_->max_entries; }
    uint64_t slots() const { return header_->slots; }

    // Any process, lock-free.
    bool lookup(uint32_t domain_id, const TenantId &tenant, uint64_t *version,
                int64_t *last_modified = nullptr) const {
        const VersionEntry *e = find(domain_id, tenant);
        if (e == nullptr)
            return false;
        *version = atomics::load_acquire(&e->version);
        if (last_modified != nullptr)
            *last_modified = atomics::load_relaxed(&e->last_modified);
        return true;
    }

    // Writer only: sets the version of a key, inserting it if needed.
    // Returns false when the key is absent and the table is full.
    bool store(uint32_t domain_id, const TenantId &tenant, uint64_t version,
               int64_t last_modified) {
        auto *e = const_cast<VersionEntry *>(find(domain_id, tenant));
        if (e != nullptr) {
            atomics::store_relaxed(&e->last_modified, last_modified);
            atomics::store_release(&e->version, version);
            return true;
        }
        if (header_->count >= header_->max_entries)
            return false;
        uint64_t mask = header_->slots - 1;
        for (uint64_t pos = hash_pair(domain_id, tenant) & mask;; pos = (pos + 1) & mask) {
            VersionEntry &slot = entries_[pos];
            if (slot.state != 0)
                continue;
            slot.domain_id = domain_id;
            slot.tenant = tenant;
            slot.last_modified = last_modified;
            slot.version = version;
            atomics::store_release(&slot.state, 1u);  // publishes the fields above
            atomics::store_release(&header_->count, header_->count + 1);
            return true;
        }
    }

    template <typename F>
    void for_each(F &&fn) const {
        for (uint64_t i = 0; i < header_->slots; i++) {
            const VersionEntry &e = entries_[i];
            if (atomics::load_acquire(&e.state) != 1)
                continue;
            // Separate statement: argument evaluation order is unspecified,
            // and last_modified must be loaded after the version (acquire).
            uint64_t version = atomics::load_acquire(&e.version);
            fn(e.domain_id, e.tenant, version, atomics::load_relaxed(&e.last_modified));
        }
    }

  private:
    static uint64_t slots_for(uint64_t max_entries) {
        uint64_t n = 2;
        while (n < max_entries * 2)
            n <<= 1;
        return n;
    }
    const VersionEntry *find(uint32_t domain_id, const TenantId &tenant) const {
        uint64_t mask = header_->slots - 1;
        uint64_t pos = hash_pair(domain_id, tenant) & mask;
        for (uint64_t i = 0; i < header_->slots; i++, pos = (pos + 1) & mask) {
            const VersionEntry &e = entries_[pos];
            if (atomics::load_acquire(&e.state) == 0)
                return nullptr;
            if (e.domain_id == domain_id && e.tenant == tenant)
                return &e;
        }
        return nullptr;
    }
    explicit VersionTable(void *memory)
        : header_(static_cast<VersionTableHeader *>(memory)),
          entries_(reinterpret_cast<VersionEntry *>(static_cast<char *>(memory) +
                                                    sizeof(VersionTableHeader))) {}

    VersionTableHeader *header_ = nullptr;
    VersionEntry *entries_ = nullptr;
};

}  // namespace fraiseql_cache
