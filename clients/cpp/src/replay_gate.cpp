#include "replay_gate.hpp"

#include <algorithm>
#include <stdexcept>

namespace fraiseql_cache::client::detail {

void ReplayGate::count(const PairKey &pair, int delta) {
    if (delta > 0) {
        per_pair_[pair]++;
        return;
    }
    auto it = per_pair_.find(pair);
    if (it != per_pair_.end() && --it->second == 0)
        per_pair_.erase(it);
}

void ReplayGate::add(const std::vector<VersionUpdate> &updates, Lsn at) {
    for (const VersionUpdate &u : updates) {
        VersionUpdate held = u;
        if (held.lsn == 0)
            held.lsn = at;
        if (held.lsn == 0)
            throw std::invalid_argument("a gated update needs a WAL position");
        queue_.push_back(held);
        count(held.pair, +1);
    }
    if (queue_.size() > max_pending_)
        compact();
}

std::vector<VersionUpdate> ReplayGate::release(Lsn replayed) {
    std::vector<VersionUpdate> out;
    std::deque<VersionUpdate> kept;
    for (VersionUpdate &u : queue_) {
        // Each entry on its own: a version whose lsn is replayed is safe
        // whatever else still waits (the map keeps the maximum).
        if (u.lsn <= replayed) {
            count(u.pair, -1);
            out.push_back(std::move(u));
        } else {
            kept.push_back(std::move(u));
        }
    }
    queue_.swap(kept);
    return out;
}

bool ReplayGate::pending_for(const PairKey &pair) const {
    if (per_pair_.count(pair))
        return true;
    return per_pair_.count(PairKey{kAllTenants, pair.domain}) != 0;
}

void ReplayGate::clear() {
    queue_.clear();
    per_pair_.clear();
}

void ReplayGate::compact() {
    std::unordered_map<PairKey, VersionUpdate, PairKeyHash> merged;
    std::vector<PairKey> order;
    for (const VersionUpdate &u : queue_) {
        auto it = merged.find(u.pair);
        if (it == merged.end()) {
            merged.emplace(u.pair, u);
            order.push_back(u.pair);
            continue;
        }
        VersionUpdate &m = it->second;
        m.version = std::max(m.version, u.version);
        m.domain_floor = std::max(m.domain_floor, u.domain_floor);
        m.lsn = std::max(m.lsn, u.lsn);
    }
    clear();
    for (const PairKey &p : order) {
        queue_.push_back(merged.at(p));
        count(p, +1);
    }
}

}  // namespace fraiseql_cache::client::detail
