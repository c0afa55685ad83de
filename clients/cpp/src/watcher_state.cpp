#include "watcher_state.hpp"

#include <algorithm>
#include <mutex>

namespace fraiseql_cache::client::detail {

PairKey WatcherState::effective(const std::string &tenant, const std::string &domain) const {
    // A global domain has one version, held under the all-tenants id (it is
    // the only pair the worker bumps and announces for it).
    if (globals_.count(domain))
        return PairKey{kAllTenants, domain};
    return PairKey{tenant, domain};
}

WatcherState::Lookup WatcherState::lookup(const std::string &tenant,
                                          const std::vector<std::string> &domains,
                                          bool live) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    Lookup out;
    out.epoch = epoch_;
    if (!healthy_ || !live) {
        out.outcome = Outcome::Unhealthy;
        return out;
    }
    out.versions.reserve(domains.size());
    for (const std::string &d : domains) {
        auto v = map_.get(effective(tenant, d));
        if (!v) {
            out.outcome = Outcome::Missing;
            out.versions.clear();
            return out;
        }
        out.versions.push_back(*v);
    }
    out.outcome = Outcome::Local;
    return out;
}

std::vector<VersionUpdate> WatcherState::apply_heard(const std::vector<VersionUpdate> &updates) {
    std::vector<VersionUpdate> raised;
    std::unique_lock<std::shared_mutex> lock(mu_);
    for (const VersionUpdate &u : updates) {
        if (map_.merge(u.pair, u.version))
            raised.push_back(u);
        // A whole-domain bump: tenants the server holds no version for
        // (held here at the floor they read) move to the new floor.
        if (u.domain_floor > 0) {
            Version &f = floors_[u.pair.domain];
            f = std::max(f, u.domain_floor);
            for (const auto &[pair, v] : map_.raise_domain(u.pair.domain, u.domain_floor))
                raised.push_back(VersionUpdate{pair, v});
        }
    }
    return raised;
}

std::vector<VersionUpdate> WatcherState::apply_read(const std::string &tenant,
                                                    const std::vector<std::string> &domains,
                                                    const std::vector<DomainRead> &reads,
                                                    std::uint64_t epoch, bool live,
                                                    std::vector<Version> *merged) {
    std::vector<VersionUpdate> raised;
    std::unique_lock<std::shared_mutex> lock(mu_);
    const bool may_hold = healthy_ && live && epoch == epoch_;
    if (merged)
        merged->clear();
    for (std::size_t i = 0; i < domains.size() && i < reads.size(); i++) {
        if (reads[i].global && may_hold)
            globals_.insert(domains[i]);
        PairKey key = reads[i].global ? PairKey{kAllTenants, domains[i]} : PairKey{tenant, domains[i]};
        // The server answers every tenant at least its domain's floor.
        const Version v = std::max(reads[i].version, floor_of(domains[i]));
        bool up = may_hold ? map_.merge(key, v) : map_.merge_existing(key, v);
        if (up)
            raised.push_back(VersionUpdate{key, v});
        if (merged) {
            auto held = map_.get(key);
            merged->push_back(held && *held > v ? *held : v);
        }
    }
    return raised;
}

Version WatcherState::floor_of(const std::string &domain) const {
    auto it = floors_.find(domain);
    return it == floors_.end() ? 0 : it->second;
}

std::vector<PairKey> WatcherState::held_pairs() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return map_.keys();
}

std::vector<VersionUpdate> WatcherState::apply_load(const std::vector<PairKey> &pairs,
                                                    const std::vector<Version> &versions,
                                                    const std::vector<std::string> &global_domains) {
    std::vector<VersionUpdate> raised;
    std::unique_lock<std::shared_mutex> lock(mu_);
    for (std::size_t i = 0; i < pairs.size() && i < versions.size(); i++) {
        const Version v = std::max(versions[i], floor_of(pairs[i].domain));
        if (map_.merge(pairs[i], v))
            raised.push_back(VersionUpdate{pairs[i], v});
    }
    globals_.clear();
    globals_.insert(global_domains.begin(), global_domains.end());
    healthy_ = true;
    return raised;
}

void WatcherState::mark_unhealthy() {
    std::unique_lock<std::shared_mutex> lock(mu_);
    healthy_ = false;
    epoch_++;
}

void WatcherState::clear() {
    std::unique_lock<std::shared_mutex> lock(mu_);
    map_.clear();
    globals_.clear();
    floors_.clear();
    healthy_ = false;
    epoch_++;
}

bool WatcherState::healthy() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return healthy_;
}

std::uint64_t WatcherState::epoch() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return epoch_;
}

std::size_t WatcherState::size() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return map_.size();
}

bool WatcherState::is_global(const std::string &domain) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return globals_.count(domain) != 0;
}

}  // namespace fraiseql_cache::client::detail
