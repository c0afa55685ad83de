// An in-process CacheStore: at most `capacity` entries, the least recently
// used one evicted first. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "fraiseql_cache/client/cache_store.hpp"

namespace fraiseql_cache::client {

class LruStore : public CacheStore {
  public:
    explicit LruStore(std::size_t capacity);

    std::optional<StoredEntry> get(const std::string &key) override;
    void put(const std::string &key, const StoredEntry &entry) override;
    void erase(const std::string &key) override;

    std::size_t size() const;
    std::size_t capacity() const { return capacity_; }
    std::uint64_t evictions() const;

  private:
    using Item = std::pair<std::string, StoredEntry>;
    const std::size_t capacity_;
    mutable std::mutex mu_;
    std::list<Item> items_;  // most recently used first
    std::unordered_map<std::string, std::list<Item>::iterator> index_;
    std::uint64_t evictions_ = 0;
};

}  // namespace fraiseql_cache::client
