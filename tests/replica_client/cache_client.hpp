// A cache client of the replica-mode test: reads data from its node, takes
// versions from the shared VersionWatcher through a VersionedCache, and
// judges every hit (tests/standby/oracle.py's rules).
//
// Per iteration, for a random tenant t:
//   required := with marks, from the newest mark the node had replayed (its
//               pg_last_wal_replay_lsn()), the highest seq returned before
//               that mark; without, the highest seq returned so far
//   floor    := max(seq) of t on the node (the strict rule, reported)
//   fetch("max_seq", t, {"contract"}): versions first, then the data
//   a hit serving seq < required is stale (asserted 0 by the caller);
//   a hit tagged with a version <= pre_max[t] (the old primary's) is counted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <fraiseql_cache/client/lru_store.hpp>
#include <fraiseql_cache/client/versioned_cache.hpp>

#include "workload.hpp"

namespace replica_client {

struct ClientTally {
    std::uint64_t hits = 0, misses = 0, stale = 0, strict_stale = 0, errors = 0, old_fresh = 0;
    std::vector<std::string> examples;  // a few stale hits

    void add(const ClientTally &o);
};

class CacheClient : public Worker {
  public:
    CacheClient(std::string conninfo, std::vector<std::string> tenants, unsigned seed,
                fraiseql_cache::client::VersionedCache<std::string> &cache, const Marks *marks,
                const Returned *returned, const SeqMap *pre_max)
        : conninfo_(std::move(conninfo)), tenants_(std::move(tenants)), seed_(seed), cache_(cache),
          marks_(marks), returned_(returned), pre_max_(pre_max) {}
    // Read after stop().
    const ClientTally &tally() const { return tally_; }

  protected:
    void body() override;

  private:
    std::string conninfo_;
    std::vector<std::string> tenants_;
    unsigned seed_;
    fraiseql_cache::client::VersionedCache<std::string> &cache_;
    const Marks *marks_;
    const Returned *returned_;
    const SeqMap *pre_max_;
    ClientTally tally_;
};

}  // namespace replica_client
