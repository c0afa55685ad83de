// Replica mode's SQL: which server a connection reaches (failover
// detection), the primary's WAL insert position, and the replica connection
// (replay position, version reloads). Any failure throws; the listener then
// starts a new session.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "fraiseql_cache/client/lsn.hpp"
#include "sql_queries.hpp"

namespace fraiseql_cache::client::detail {

// A server's history: its system identifier (pg_control_system(); "" when
// the role may not call it) and the timeline of its WAL insert position. A
// promoted standby or a restored backup has another timeline; another
// cluster another system identifier.
struct ServerIdentity {
    std::string system_id;
    std::uint32_t timeline = 0;
    bool in_recovery = false;  // a standby: no timeline read (0)

    bool same_history(const ServerIdentity &o) const {
        return system_id == o.system_id && timeline == o.timeline;
    }
    std::string describe() const;
};

// The identity of the server behind `c`.
ServerIdentity query_identity(pqxx::connection &c);
// pg_current_wal_insert_lsn() of a primary.
Lsn query_insert_lsn(pqxx::connection &c);

// The timeline of a WAL file name as pg_walfile_name() prints it.
std::uint32_t timeline_of_walfile(const std::string &walfile);

class ReplicaLink {
  public:
    explicit ReplicaLink(const std::string &conninfo);

    struct Position {
        Lsn lsn = 0;             // replayed (standby) or inserted (a primary)
        bool in_recovery = true;
    };
    // One query: pg_last_wal_replay_lsn() on a standby; on a server that is
    // not in recovery (the replica is a primary) its insert position, since
    // everything committed there is visible.
    Position position();
    ServerIdentity identity() { return query_identity(*conn_); }
    // The versions of `pairs` and the global domains, from the replica.
    LoadResult load(const std::vector<PairKey> &pairs) { return query_load(*conn_, pairs); }

  private:
    std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace fraiseql_cache::client::detail
