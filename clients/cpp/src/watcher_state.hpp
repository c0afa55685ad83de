// The state a VersionWatcher guards: the version map, whether it can be
// trusted (healthy), the connection epoch and the global domains.
//
// The rules that keep a local answer from ever being staler than the
// notification delay:
//   - the map is trusted only while the listener is connected, has loaded
//     every held pair after its LISTEN, and is live;
//   - every loss of the listener starts a new epoch; a pair read over SQL by
//     a caller becomes held only if the state stayed healthy in the epoch the
//     read started in (otherwise the next reload might not include it, and a
//     notification missed in between would go unnoticed);
//   - what is heard or read only ever raises a held version (maximum).
// No I/O here: unit-tested on its own.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fraiseql_cache/client/sql_version_reader.hpp"
#include "fraiseql_cache/client/types.hpp"
#include "fraiseql_cache/client/version_map.hpp"

namespace fraiseql_cache::client::detail {

class WatcherState {
  public:
    enum class Outcome {
        Local,      // every pair held: `versions` is the answer
        Missing,    // healthy, but some pair is not held: read over SQL, then apply_read()
        Unhealthy,  // the map cannot be trusted: answer over SQL
    };
    struct Lookup {
        Outcome outcome = Outcome::Unhealthy;
        std::vector<Version> versions;
        std::uint64_t epoch = 0;
    };

    // `live`: the listener was heard from recently enough.
    Lookup lookup(const std::string &tenant, const std::vector<std::string> &domains,
                  bool live) const;

    // What the listener heard. Returns the versions that went up.
    std::vector<VersionUpdate> apply_heard(const std::vector<VersionUpdate> &updates);

    // What a caller read over SQL for (tenant, domains), having started the
    // read in `epoch`. Raises held pairs; holds new ones only if the state is
    // still healthy and live in that epoch. `merged` (optional) receives, per
    // domain, the larger of the read and the held version. Returns the
    // versions that went up.
    std::vector<VersionUpdate> apply_read(const std::string &tenant,
                                          const std::vector<std::string> &domains,
                                          const std::vector<DomainRead> &reads,
                                          std::uint64_t epoch, bool live,
                                          std::vector<Version> *merged);

    // The pairs to reload after a (re)connect.
    std::vector<PairKey> held_pairs() const;
    // A completed reload of `pairs` (read after LISTEN): raises them, replaces
    // the global domains, and makes the state healthy. Returns the versions
    // that went up.
    std::vector<VersionUpdate> apply_load(const std::vector<PairKey> &pairs,
                                          const std::vector<Version> &versions,
                                          const std::vector<std::string> &global_domains);
    // The listener is gone: untrusted until the next apply_load(), new epoch.
    void mark_unhealthy();
    // Another server (failover): forgets every version and global domain;
    // untrusted until the next apply_load(), new epoch.
    void clear();

    bool healthy() const;
    std::uint64_t epoch() const;
    std::size_t size() const;
    bool is_global(const std::string &domain) const;

  private:
    PairKey effective(const std::string &tenant, const std::string &domain) const;
    // The largest domain floor heard for `domain` (0: none).
    Version floor_of(const std::string &domain) const;

    mutable std::shared_mutex mu_;
    VersionMap map_;
    std::unordered_set<std::string> globals_;
    // Domain floors heard: a pair held later (by a read that may have
    // started before the floor was raised) is held at least at its floor.
    std::unordered_map<std::string, Version> floors_;
    bool healthy_ = false;
    std::uint64_t epoch_ = 0;
};

}  // namespace fraiseql_cache::client::detail
