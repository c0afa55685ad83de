// VersionedCache<V>: the cache protocol around any CacheStore.
//
//   1. v := versions of the key's domains for the tenant  (before computing)
//   2. an entry whose stored versions equal v: serve it
//   3. otherwise compute, store (value, v), return the value
//
// Because the versions are read before the value is computed and a bump is
// visible only after the writing commit is, an entry can be tagged older
// than its data (a later spurious miss) but never newer (a stale entry that
// looks fresh). With a VersionWatcher as the source, step 1 costs no round
// trip; a hit can then lag a commit by the notification delay, unless the
// writer called VersionWatcher::refresh() (read-your-writes).
//
// A failing store is a miss, never a hit; when the versions cannot be read
// at all the value is computed and not cached.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fraiseql_cache/client/cache_counters.hpp"
#include "fraiseql_cache/client/cache_store.hpp"
#include "fraiseql_cache/client/types.hpp"
#include "fraiseql_cache/client/value_codec.hpp"
#include "fraiseql_cache/client/version_source.hpp"

namespace fraiseql_cache::client {

enum class CacheOutcome {
    Hit,         // served from the store
    Miss,        // no usable entry: computed and stored
    Uncached,    // versions unreadable: computed, not stored
};

template <class V>
struct CacheResult {
    V value;
    CacheOutcome outcome;
    std::vector<Version> versions;  // what the entry is (or would be) tagged with
};

template <class V, class Codec = ValueCodec<V>>
class VersionedCache {
  public:
    // `name` prefixes every store key, so caches of different value types
    // can share one store.
    VersionedCache(VersionSource &versions, CacheStore &store, std::string name = "")
        : versions_(versions), store_(store), name_(std::move(name)) {}

    // The value of `key` for `tenant`, computed from `domains` (compute() is
    // called with no arguments and returns V; its exceptions propagate and
    // nothing is stored).
    template <class Compute>
    V get_or_compute(const std::string &key, const std::string &tenant,
                     const std::vector<std::string> &domains, Compute &&compute) {
        return fetch(key, tenant, domains, std::forward<Compute>(compute)).value;
    }

    // The same, saying whether it was a hit.
    template <class Compute>
    CacheResult<V> fetch(const std::string &key, const std::string &tenant,
                         const std::vector<std::string> &domains, Compute &&compute) {
        const std::string canonical = normalize_tenant(tenant);  // throws for a bad id
        std::vector<Version> current;
        try {
            current = versions_.versions(canonical, domains);
        } catch (const std::invalid_argument &) {
            throw;
        } catch (...) {
            bump(version_errors_);
            bump(misses_);
            return CacheResult<V>{compute(), CacheOutcome::Uncached, {}};
        }
        const std::string skey = store_key(canonical, key);
        try {
            if (auto entry = store_.get(skey)) {
                if (entry->domains == domains && entry->versions == current) {
                    if (auto value = Codec::decode(entry->value)) {
                        bump(hits_);
                        return CacheResult<V>{std::move(*value), CacheOutcome::Hit, current};
                    }
                    bump(decode_errors_);
                } else {
                    bump(refused_stale_);
                }
            }
        } catch (const StoreError &) {
            bump(store_errors_);
        }
        bump(misses_);
        V value = compute();
        try {
            store_.put(skey, StoredEntry{domains, current, Codec::encode(value)});
        } catch (const StoreError &) {
            bump(store_errors_);
        }
        return CacheResult<V>{std::move(value), CacheOutcome::Miss, std::move(current)};
    }

    // The key an entry is stored under.
    std::string store_key(const std::string &canonical_tenant, const std::string &key) const {
        return name_ + (name_.empty() ? "" : ":") + canonical_tenant + ":" + key;
    }

    CacheCounters counters() const {
        CacheCounters c;
        c.hits = hits_.load(std::memory_order_relaxed);
        c.misses = misses_.load(std::memory_order_relaxed);
        c.refused_stale = refused_stale_.load(std::memory_order_relaxed);
        c.store_errors = store_errors_.load(std::memory_order_relaxed);
        c.version_errors = version_errors_.load(std::memory_order_relaxed);
        c.decode_errors = decode_errors_.load(std::memory_order_relaxed);
        return c;
    }

  private:
    static void bump(std::atomic<std::uint64_t> &c) { c.fetch_add(1, std::memory_order_relaxed); }

    VersionSource &versions_;
    CacheStore &store_;
    const std::string name_;
    std::atomic<std::uint64_t> hits_{0}, misses_{0}, refused_stale_{0}, store_errors_{0},
        version_errors_{0}, decode_errors_{0};
};

}  // namespace fraiseql_cache::client
