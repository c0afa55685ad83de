// Where VersionedCache keeps its entries: bytes tagged with the versions of
// the domains they were computed from.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fraiseql_cache/client/types.hpp"

namespace fraiseql_cache::client {

struct StoredEntry {
    std::vector<std::string> domains;  // the domains the value was read from, in key order
    std::vector<Version> versions;     // their versions, read before the value was computed
    std::string value;                 // the encoded value

    bool operator==(const StoredEntry &o) const {
        return domains == o.domains && versions == o.versions && value == o.value;
    }
};

// A store that cannot answer (Redis down, a timeout). VersionedCache treats
// it as a miss and counts it; it never turns into a stale hit.
class StoreError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class CacheStore {
  public:
    virtual ~CacheStore() = default;
    // The entry stored under `key`, or nullopt. Throws StoreError.
    virtual std::optional<StoredEntry> get(const std::string &key) = 0;
    // Stores (replaces) the entry under `key`. Throws StoreError.
    virtual void put(const std::string &key, const StoredEntry &entry) = 0;
    // Removes `key` if present. Throws StoreError.
    virtual void erase(const std::string &key) = 0;
};

}  // namespace fraiseql_cache::client
