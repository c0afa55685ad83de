// The HTTP routes:
//   GET  /tenants/{tenant}/contracts        the tenant's contracts (JSON), cached
//   PUT  /tenants/{tenant}/contracts/{id}   body: the new name; read-your-writes
//   GET  /healthz                           watcher health and cache counters
#pragma once

#include <string>

#include <httplib.h>

#include "contract_repository.hpp"
#include "fraiseql_cache/client/version_watcher.hpp"
#include "fraiseql_cache/client/versioned_cache.hpp"

namespace contracts_api {

struct Api {
    fraiseql_cache::client::VersionWatcher &watcher;
    fraiseql_cache::client::VersionedCache<std::string> &cache;
    ContractRepository &contracts;
    std::string domain;    // the contracts table's cache domain
    std::string instance;  // sent as X-Served-By
};

void register_routes(httplib::Server &server, Api &api);

}  // namespace contracts_api
