#include "fraiseql_cache/client/version_map.hpp"

namespace fraiseql_cache::client {

bool VersionMap::merge(const PairKey &pair, Version v) {
    auto [it, inserted] = map_.try_emplace(pair, v);
    if (inserted)
        return true;
    if (v > it->second) {
        it->second = v;
        return true;
    }
    return false;
}

bool VersionMap::merge_existing(const PairKey &pair, Version v) {
    auto it = map_.find(pair);
    if (it == map_.end() || v <= it->second)
        return false;
    it->second = v;
    return true;
}

std::vector<std::pair<PairKey, Version>> VersionMap::raise_domain(const std::string &domain,
                                                                   Version floor) {
    std::vector<std::pair<PairKey, Version>> raised;
    for (auto &kv : map_)
        if (kv.first.domain == domain && kv.second < floor) {
            kv.second = floor;
            raised.emplace_back(kv.first, floor);
        }
    return raised;
}

std::optional<Version> VersionMap::get(const PairKey &pair) const {
    auto it = map_.find(pair);
    if (it == map_.end())
        return std::nullopt;
    return it->second;
}

std::vector<PairKey> VersionMap::keys() const {
    std::vector<PairKey> out;
    out.reserve(map_.size());
    for (const auto &kv : map_)
        out.push_back(kv.first);
    return out;
}

}  // namespace fraiseql_cache::client
