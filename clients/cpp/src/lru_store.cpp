#include "fraiseql_cache/client/lru_store.hpp"

#include <stdexcept>

namespace fraiseql_cache::client {

LruStore::LruStore(std::size_t capacity) : capacity_(capacity) {
    if (capacity == 0)
        throw std::invalid_argument("LruStore capacity must be at least 1");
}

std::optional<StoredEntry> LruStore::get(const std::string &key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end())
        return std::nullopt;
    items_.splice(items_.begin(), items_, it->second);  // now the most recent
    return it->second->second;
}

void LruStore::put(const std::string &key, const StoredEntry &entry) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
        it->second->second = entry;
        items_.splice(items_.begin(), items_, it->second);
        return;
    }
    items_.emplace_front(key, entry);
    index_.emplace(key, items_.begin());
    while (items_.size() > capacity_) {
        index_.erase(items_.back().first);
        items_.pop_back();
        evictions_++;
    }
}

void LruStore::erase(const std::string &key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end())
        return;
    items_.erase(it->second);
    index_.erase(it);
}

std::size_t LruStore::size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
}

std::uint64_t LruStore::evictions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return evictions_;
}

}  // namespace fraiseql_cache::client
