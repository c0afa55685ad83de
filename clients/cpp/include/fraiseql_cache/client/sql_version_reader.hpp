// Reads current versions over SQL, one round trip per call, on a connection
// of its own (opened lazily, re-opened after a failure, one retry: reads are
// idempotent). Thread-safe: calls are serialised on the one connection.
//
// On its own it is the plain cache protocol (every cache check asks the
// server); VersionWatcher uses it for pairs it does not hold yet, while its
// listener is down, and for refresh().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fraiseql_cache/client/version_source.hpp"

namespace fraiseql_cache::client {

// What one SQL read says about a domain for a tenant.
struct DomainRead {
    Version version = 0;
    bool global = false;  // a global domain: the version is the all-tenants pair's
};

class SqlVersionReader : public VersionSource {
  public:
    // `conninfo`: a libpq connection string; "" reads PGHOST, PGPORT... from
    // the environment.
    explicit SqlVersionReader(std::string conninfo);
    ~SqlVersionReader() override;
    SqlVersionReader(const SqlVersionReader &) = delete;
    SqlVersionReader &operator=(const SqlVersionReader &) = delete;

    // fraiseql_cache.current_versions(tenant, domains).
    std::vector<Version> versions(const std::string &tenant,
                                  const std::vector<std::string> &domains) override;
    // The same, with whether each domain is global.
    std::vector<DomainRead> read_domains(const std::string &tenant,
                                         const std::vector<std::string> &domains);

    // Queries sent (each one round trip).
    std::uint64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::atomic<std::uint64_t> round_trips_{0};
};

}  // namespace fraiseql_cache::client
