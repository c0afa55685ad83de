// The body of the WAL record that carries a batch's versions to hot
// standbys (see standby_wal.cpp). No server headers: encoded by the worker,
// decoded by the standby's startup process, unit-tested alone.
//
// Layout, in the byte order of the server (physical replication requires
// the same architecture on both ends):
//   header   database u32, domains u32, pairs u32, floors u32, scopes u32,
//            at i64 (TimestampTz), floor u64 (the worker floor after the batch)
//   domains  length u8, name bytes             (referenced by index below)
//   pairs    domain index u32, tenant 16 bytes, version u64
//   floors   domain index u32, floor u64
//   scopes   domain index u32, global u32
// The decoder walks the bytes in place (the startup process allocates
// nothing per record) and refuses anything malformed as a whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "pg_fraiseql_cache/pair.hpp"

namespace fraiseql_cache::version_record {

struct Header {
    uint32_t database;
    uint32_t domains;
    uint32_t pairs;
    uint32_t floors;
    uint32_t scopes;
    int64_t at;
    uint64_t floor;
};

constexpr std::size_t kHeaderBytes = 5 * 4 + 8 + 8;
constexpr std::size_t kPairBytes = 4 + 16 + 8;
constexpr std::size_t kFloorBytes = 4 + 8;
constexpr std::size_t kScopeBytes = 4 + 4;

// Builds one record body.
class Encoder {
  public:
    Encoder(uint32_t database, int64_t at, uint64_t floor) {
        header_.database = database;
        header_.at = at;
        header_.floor = floor;
    }
    void pair(const DomainName &domain, const TenantId &tenant, uint64_t version) {
        put(&pairs_, index_of(domain));
        pairs_.append(reinterpret_cast<const char *>(tenant.bytes), 16);
        put(&pairs_, version);
        header_.pairs++;
    }
    void floor(const DomainName &domain, uint64_t value) {
        put(&floors_, index_of(domain));
        put(&floors_, value);
        header_.floors++;
    }
    void scope(const DomainName &domain, bool global) {
        put(&scopes_, index_of(domain));
        put(&scopes_, uint32_t(global ? 1 : 0));
        header_.scopes++;
    }
    uint32_t pairs() const { return header_.pairs; }
    bool empty() const { return header_.pairs == 0 && header_.floors == 0 && header_.scopes == 0; }

    std::string finish() const {
        std::string out;
        out.reserve(kHeaderBytes + names_.size() + pairs_.size() + floors_.size() +
                    scopes_.size());
        put(&out, header_.database);
        put(&out, header_.domains);
        put(&out, header_.pairs);
        put(&out, header_.floors);
        put(&out, header_.scopes);
        put(&out, header_.at);
        put(&out, header_.floor);
        out += names_;
        out += pairs_;
        out += floors_;
        out += scopes_;
        return out;
    }

  private:
    template <typename T>
    static void put(std::string *out, T value) {
        out->append(reinterpret_cast<const char *>(&value), sizeof value);
    }
    uint32_t index_of(const DomainName &domain) {
        std::string key(domain.bytes, domain.length());
        auto [it, added] = index_.emplace(key, header_.domains);
        if (added) {
            names_.push_back(char(uint8_t(key.size())));
            names_ += key;
            header_.domains++;
        }
        return it->second;
    }

    Header header_{};
    std::unordered_map<std::string, uint32_t> index_;
    std::string names_, pairs_, floors_, scopes_;
};

// A decoded view of one record body; valid while the bytes are.
class View {
  public:
    // False when the bytes are not a well-formed record.
    bool parse(const char *data, std::size_t len) {
        if (len < kHeaderBytes)
            return false;
        const char *p = data;
        get(&p, &header_.database);
        get(&p, &header_.domains);
        get(&p, &header_.pairs);
        get(&p, &header_.floors);
        get(&p, &header_.scopes);
        get(&p, &header_.at);
        get(&p, &header_.floor);
        const char *end = data + len;
        names_ = p;
        for (uint32_t i = 0; i < header_.domains; i++) {
            if (p >= end)
                return false;
            std::size_t n = uint8_t(*p);
            if (n == 0 || n > kDomainMaxBytes || std::size_t(end - p) < 1 + n)
                return false;
            p += 1 + n;
        }
        std::size_t rest = std::size_t(end - p);
        if (rest != std::size_t(header_.pairs) * kPairBytes +
                        std::size_t(header_.floors) * kFloorBytes +
                        std::size_t(header_.scopes) * kScopeBytes)
            return false;
        pairs_ = p;
        floors_ = pairs_ + std::size_t(header_.pairs) * kPairBytes;
        scopes_ = floors_ + std::size_t(header_.floors) * kFloorBytes;
        // Every index names a domain of the record.
        bool ok = true;
        for_each_index([&](uint32_t index) { ok = ok && index < header_.domains; });
        return ok;
    }
    const Header &header() const { return header_; }

    // fn(index, name, length) for each domain, in index order.
    template <typename F>
    void for_each_domain(F &&fn) const {
        const char *p = names_;
        for (uint32_t i = 0; i < header_.domains; i++) {
            std::size_t n = uint8_t(*p);
            fn(i, p + 1, n);
            p += 1 + n;
        }
    }
    // fn(domain index, tenant, version)
    template <typename F>
    void for_each_pair(F &&fn) const {
        const char *p = pairs_;
        for (uint32_t i = 0; i < header_.pairs; i++) {
            uint32_t index;
            TenantId tenant;
            uint64_t version;
            get(&p, &index);
            std::memcpy(tenant.bytes, p, 16);
            p += 16;
            get(&p, &version);
            fn(index, tenant, version);
        }
    }
    // fn(domain index, floor)
    template <typename F>
    void for_each_floor(F &&fn) const {
        const char *p = floors_;
        for (uint32_t i = 0; i < header_.floors; i++) {
            uint32_t index;
            uint64_t value;
            get(&p, &index);
            get(&p, &value);
            fn(index, value);
        }
    }
    // fn(domain index, global)
    template <typename F>
    void for_each_scope(F &&fn) const {
        const char *p = scopes_;
        for (uint32_t i = 0; i < header_.scopes; i++) {
            uint32_t index, global;
            get(&p, &index);
            get(&p, &global);
            fn(index, global != 0);
        }
    }

  private:
    template <typename T>
    static void get(const char **p, T *out) {
        std::memcpy(out, *p, sizeof *out);
        *p += sizeof *out;
    }
    template <typename F>
    void for_each_index(F &&fn) const {
        for_each_pair([&](uint32_t i, const TenantId &, uint64_t) { fn(i); });
        for_each_floor([&](uint32_t i, uint64_t) { fn(i); });
        for_each_scope([&](uint32_t i, bool) { fn(i); });
    }

    Header header_{};
    const char *names_ = nullptr;
    const char *pairs_ = nullptr;
    const char *floors_ = nullptr;
    const char *scopes_ = nullptr;
};

}  // namespace fraiseql_cache::version_record
