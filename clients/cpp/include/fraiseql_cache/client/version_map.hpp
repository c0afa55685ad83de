// The versions a process holds, merged by maximum.
//
// Versions are absolute and monotonic, so keeping the maximum of what was
// loaded and what was heard makes every merge idempotent and independent of
// order: a late or duplicated notification can never lower a version.
// Not synchronised: VersionWatcher guards it.
#pragma once

#include <cstddef>
#include <optional>
#include <unordered_map>
#include <vector>

#include "fraiseql_cache/client/types.hpp"

namespace fraiseql_cache::client {

class VersionMap {
  public:
    // Raises the pair to `v` when `v` is larger (or the pair is new).
    // Returns true when the held version changed.
    bool merge(const PairKey &pair, Version v);
    // Raises an existing pair only; a pair not held is left absent.
    bool merge_existing(const PairKey &pair, Version v);
    // Raises every held pair of `domain` to at least `floor`; returns the
    // pairs raised with their new versions.
    std::vector<std::pair<PairKey, Version>> raise_domain(const std::string &domain, Version floor);

    std::optional<Version> get(const PairKey &pair) const;
    bool contains(const PairKey &pair) const { return map_.count(pair) != 0; }
    std::vector<PairKey> keys() const;
    std::size_t size() const { return map_.size(); }
    void clear() { map_.clear(); }

  private:
    std::unordered_map<PairKey, Version, PairKeyHash> map_;
};

}  // namespace fraiseql_cache::client
