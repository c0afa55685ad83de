// The service's data access: per-tenant contract lists from PostgreSQL.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <pqxx/pqxx>

namespace contracts_api {

class ContractRepository {
  public:
    // `table`: a plain identifier (checked), e.g. tv_contract.
    ContractRepository(const std::string &conninfo, const std::string &table);

    // The tenant's contracts as a JSON array, ordered by id.
    std::string list_json(const std::string &tenant);
    // How many list_json() queries have been run (served in /healthz, so a
    // client can see that a 304 or a cache hit did not touch the data).
    std::uint64_t list_queries() const { return list_queries_.load(std::memory_order_relaxed); }
    // Renames a contract; false when the tenant has no such contract.
    bool rename(const std::string &tenant, long long id, const std::string &name);

  private:
    pqxx::connection &conn();  // reconnects after a lost connection

    std::string conninfo_;
    std::string table_;
    std::mutex mu_;  // one connection, one query at a time
    std::unique_ptr<pqxx::connection> conn_;
    std::atomic<std::uint64_t> list_queries_{0};
};

}  // namespace contracts_api
