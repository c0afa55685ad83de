// Counters of a VersionedCache, since it was created.
#pragma once

#include <cstdint>

namespace fraiseql_cache::client {

struct CacheCounters {
    std::uint64_t hits = 0;           // served from the store: versions matched
    std::uint64_t misses = 0;         // computed (no entry, refused entry, or store error)
    std::uint64_t refused_stale = 0;  // an entry was found but its versions did not match
    std::uint64_t store_errors = 0;   // the store failed (treated as a miss, never as a hit)
    std::uint64_t version_errors = 0; // versions could not be read: computed, not cached
    std::uint64_t decode_errors = 0;  // a stored value the codec refused (a miss)
};

}  // namespace fraiseql_cache::client
