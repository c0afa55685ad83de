// Basic vocabulary of the client: versions, (tenant, domain) pairs and tenant
// ids in their canonical text form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace fraiseql_cache::client {

// A version as current_version() returns it: absolute and monotonic per
// (tenant, domain), so the larger of two versions is always the newer one.
using Version = std::int64_t;

// The all-tenants id: the tenant of global domains; every bump of (t, d) also
// bumps (all, d).
extern const char *const kAllTenants;

// The canonical text of a uuid (lowercase, hyphenated, as PostgreSQL prints
// it). Accepts upper case, braces and the hyphen-less form; throws
// std::invalid_argument for anything else.
std::string normalize_tenant(const std::string &tenant);

// One (tenant, domain) pair; the tenant in canonical form.
struct PairKey {
    std::string tenant;
    std::string domain;

    bool operator==(const PairKey &o) const { return tenant == o.tenant && domain == o.domain; }
    bool operator!=(const PairKey &o) const { return !(*this == o); }
    bool operator<(const PairKey &o) const {
        return tenant < o.tenant || (tenant == o.tenant && domain < o.domain);
    }
};

struct PairKeyHash {
    std::size_t operator()(const PairKey &k) const noexcept {
        std::size_t h = std::hash<std::string>{}(k.tenant);
        return h ^ (std::hash<std::string>{}(k.domain) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
    }
};

// A version heard or read for a pair.
struct VersionUpdate {
    PairKey pair;
    Version version = 0;
    // Non-zero on the all-tenants pair of a whole-domain bump: every tenant
    // of the domain now reads at least this.
    Version domain_floor = 0;
    // The notification's "lsn" (the primary's WAL position above the commit
    // of every transaction the version counts); 0 when absent or not heard.
    std::uint64_t lsn = 0;
};

}  // namespace fraiseql_cache::client
