// Replica mode: versions heard from the primary wait here until the replica
// the application reads from has replayed the WAL they stand for.
//
// A notification's "lsn" lies above the commit record of every transaction
// its version counts, so once the replica's replay position has reached it
// the replica shows their data and the version may enter the local map.
// Until then the pair keeps its previous version, under which the replica's
// (older) data is still right. Released in arrival order, each entry as soon
// as its own lsn is replayed. Not synchronised: VersionWatcher guards it. No I/O.
#pragma once

#include <cstddef>
#include <deque>
#include <unordered_map>
#include <vector>

#include "fraiseql_cache/client/lsn.hpp"
#include "fraiseql_cache/client/types.hpp"

namespace fraiseql_cache::client::detail {

class ReplayGate {
  public:
    // Beyond `max_pending` entries (a replica far behind) the pending
    // updates are merged per pair: the highest version at the highest lsn,
    // which releases later but never earlier.
    explicit ReplayGate(std::size_t max_pending = 100000) : max_pending_(max_pending) {}

    // Updates to hold until `at` is replayed. Each keeps its own lsn when it
    // has one (non-zero); `at` is used for those without.
    void add(const std::vector<VersionUpdate> &updates, Lsn at = 0);
    // The updates whose lsn the replica has replayed (`replayed`), in the
    // order they were added; they leave the gate.
    std::vector<VersionUpdate> release(Lsn replayed);

    // Whether an update is pending for (tenant, domain) or its domain's
    // all-tenants pair (a global domain's version, or a domain floor).
    bool pending_for(const PairKey &pair) const;
    bool empty() const { return queue_.empty(); }
    std::size_t size() const { return queue_.size(); }
    void clear();

  private:
    void count(const PairKey &pair, int delta);
    void compact();

    std::size_t max_pending_;
    std::deque<VersionUpdate> queue_;
    std::unordered_map<PairKey, std::size_t, PairKeyHash> per_pair_;
};

}  // namespace fraiseql_cache::client::detail
