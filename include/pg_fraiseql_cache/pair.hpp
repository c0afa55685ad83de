// The key every version is kept under: a tenant (uuid) and a domain name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace fraiseql_cache {

// Longest domain name in bytes (PostgreSQL's NAMEDATALEN - 1, and a
// NOTIFY channel's limit, so a domain can always be named in a payload).
constexpr std::size_t kDomainMaxBytes = 63;

struct TenantId {
    uint8_t bytes[16];

    static TenantId all() { return TenantId{}; }
    bool is_all() const {
        uint64_t w[2];
        std::memcpy(w, bytes, sizeof w);
        return (w[0] | w[1]) == 0;
    }
    // Two 8-byte loads: this runs for every changed row, and a call into
    // the C library's memcmp costs several times more.
    friend bool operator==(const TenantId &a, const TenantId &b) {
        uint64_t x[2], y[2];
        std::memcpy(x, a.bytes, sizeof x);
        std::memcpy(y, b.bytes, sizeof y);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
    }
    friend bool operator!=(const TenantId &a, const TenantId &b) { return !(a == b); }
};

// A domain name stored inline: NUL-terminated, at most kDomainMaxBytes.
struct DomainName {
    char bytes[kDomainMaxBytes + 1];

    // Returns false (and leaves *out untouched) when len is 0 or too long.
    static bool from(const char *s, std::size_t len, DomainName *out) {
        if (len == 0 || len > kDomainMaxBytes)
            return false;
        std::memcpy(out->bytes, s, len);
        std::memset(out->bytes + len, 0, sizeof out->bytes - len);
        return true;
    }
    std::size_t length() const { return strnlen(bytes, kDomainMaxBytes); }
    bool equals(const char *s, std::size_t len) const {
        return len == length() && std::memcmp(bytes, s, len) == 0;
    }
};

// 64-bit mix of a byte string (FNV-1a followed by a murmur finaliser, so
// linear probing sees well-spread low bits).
inline uint64_t hash_bytes(const void *data, std::size_t len, uint64_t seed = 0) {
    const auto *p = static_cast<const uint8_t *>(data);
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (std::size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

inline uint64_t hash_pair(uint32_t domain_id, const TenantId &tenant) {
    uint64_t t0, t1;
    std::memcpy(&t0, tenant.bytes, 8);
    std::memcpy(&t1, tenant.bytes + 8, 8);
    uint64_t h = t0 * 0x9e3779b97f4a7c15ULL ^ (t1 + 0x632be59bd9b4e019ULL) ^
                 (uint64_t(domain_id) << 32 | domain_id);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

}  // namespace fraiseql_cache
