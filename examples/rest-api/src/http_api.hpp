// The HTTP routes:
//   GET  /tenants/{tenant}/contracts        the tenant's contracts (JSON), cached;
//                                           ETag, If-None-Match -> 304
//   PUT  /tenants/{tenant}/contracts/{id}   body: the new name; read-your-writes
//   GET  /healthz                           watcher health and cache counters
#pragma once

#include <atomic>
#include <cstdint>
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
    std::atomic<std::uint64_t> not_modified{0};  // 304s answered
};

void register_routes(httplib::Server &server, Api &api);

}  // namespace contracts_api
