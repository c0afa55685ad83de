// The SQL the client sends, in one place (libpqxx 6.4 and 7.x).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "fraiseql_cache/client/sql_version_reader.hpp"
#include "fraiseql_cache/client/types.hpp"

namespace fraiseql_cache::client::detail {

// A new connection that never silently re-connects (libpqxx 6 would, and
// would lose the point where a listener must reload).
std::unique_ptr<pqxx::connection> open_connection(const std::string &conninfo);

// current_versions(tenant, domains), one round trip.
std::vector<Version> query_current_versions(pqxx::connection &c, const std::string &tenant,
                                            const std::vector<std::string> &domains);

// current_version(tenant, d) and whether d is global, for each d; one round trip.
std::vector<DomainRead> query_domains(pqxx::connection &c, const std::string &tenant,
                                      const std::vector<std::string> &domains);

struct LoadResult {
    std::vector<Version> versions;            // one per pair, in order
    std::vector<std::string> global_domains;  // every global domain
};
// The current version of every pair and the global domains; one query.
LoadResult query_load(pqxx::connection &c, const std::vector<PairKey> &pairs);

// True for errors meaning the connection is gone (retry on a new one).
bool is_connection_loss(const std::exception &e);

}  // namespace fraiseql_cache::client::detail
