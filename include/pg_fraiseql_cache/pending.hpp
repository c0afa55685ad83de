// The current top-level transaction's dirty (domain, tenant) pairs, kept in
// backend memory until commit hands them to the worker.
//
// Domains are interned per backend into small local ids (the trigger caches
// the id per relation), so recording a row hashes 20 bytes and never touches
// a catalog or a lock.
#pragma once

#include <cstdint>

#include "pg_fraiseql_cache/pair.hpp"
#include "pg_fraiseql_cache/pair_set.hpp"

namespace fraiseql_cache::pending {

constexpr uint32_t kNoDomain = UINT32_MAX;

// What a transaction recorded under one domain: the domain's local id and
// the kind of bump. The set holds it as one 32-bit key (key()), the kinds in
// bits no local id reaches (a backend interns far fewer than 2^29 names).
struct Recorded {
    uint32_t local;
    bool whole_domain;  // every known tenant of the domain (TRUNCATE, invalidate_domain())
    bool manual;        // invalidate*(), not a trigger
    bool registration;  // a table set up or removed (see kSlotRegister)

    static Recorded row(uint32_t local) { return Recorded{local, false, false, false}; }
    uint32_t key() const {
        return local | (whole_domain ? kWholeBit : 0u) | (manual ? kManualBit : 0u) |
               (registration ? kRegisterBit : 0u);
    }
    static Recorded from_key(uint32_t key) {
        return Recorded{key & ~(kWholeBit | kManualBit | kRegisterBit), (key & kWholeBit) != 0,
                        (key & kManualBit) != 0, (key & kRegisterBit) != 0};
    }

  private:
    static constexpr uint32_t kWholeBit = 1u << 31;
    static constexpr uint32_t kManualBit = 1u << 30;
    static constexpr uint32_t kRegisterBit = 1u << 29;
};

// The transaction changed cascade_rules (set by the table's trigger).
extern bool rules_changed;
// setup_table_invalidation() is creating its own triggers: the DDL event
// trigger bumps nothing for that (the rows did not change). Cleared at the
// end of every transaction.
extern bool setup_ddl;
// This transaction claimed the database's slot (CREATE EXTENSION): at its
// commit the worker is woken again, had it given up waiting for the commit.
extern bool serve_requested;

// Local id of a domain name, interning it on first use. Returns kNoDomain
// when memory ran out. Never throws.
uint32_t intern_domain(const char *name, std::size_t len, bool global) noexcept;

// The set for the current transaction; created by ensure_ready().
extern PairSet *pairs;
extern uint64_t rows_seen;

// Creates the set and registers the transaction callbacks once per backend.
// Returns false when memory ran out. Never throws.
bool ensure_ready() noexcept;

// Records a pair for the current transaction. Returns false when memory ran
// out. Never throws. The caller has called ensure_ready().
inline bool record(Recorded domain, const TenantId &tenant) noexcept {
    try {
        pairs->add(domain.key(), tenant);
        return true;
    } catch (...) {
        return false;
    }
}

inline bool any() { return pairs != nullptr && !pairs->empty(); }

}  // namespace fraiseql_cache::pending
