#include "fraiseql_cache/client/sql_version_reader.hpp"

#include <mutex>

#include "sql_queries.hpp"

namespace fraiseql_cache::client {

struct SqlVersionReader::Impl {
    std::string conninfo;
    std::mutex mu;
    std::unique_ptr<pqxx::connection> conn;

    // Runs `f` on the connection; after a lost connection, once more on a
    // new one (the reads are idempotent).
    template <class F>
    auto run(F &&f, std::atomic<std::uint64_t> &round_trips) -> decltype(f(*conn)) {
        std::lock_guard<std::mutex> lock(mu);
        for (int attempt = 0;; attempt++) {
            try {
                if (!conn || !conn->is_open())
                    conn = detail::open_connection(conninfo);
                round_trips.fetch_add(1, std::memory_order_relaxed);
                return f(*conn);
            } catch (const std::exception &e) {
                if (!detail::is_connection_loss(e) || attempt >= 1) {
                    if (conn && !conn->is_open())
                        conn.reset();
                    throw;
                }
                conn.reset();
            }
        }
    }
};

SqlVersionReader::SqlVersionReader(std::string conninfo) : impl_(std::make_unique<Impl>()) {
    impl_->conninfo = std::move(conninfo);
}

SqlVersionReader::~SqlVersionReader() = default;

std::vector<Version> SqlVersionReader::versions(const std::string &tenant,
                                                const std::vector<std::string> &domains) {
    const std::string t = normalize_tenant(tenant);
    if (domains.empty())
        return {};
    return impl_->run(
        [&](pqxx::connection &c) { return detail::query_current_versions(c, t, domains); },
        round_trips_);
}

std::vector<DomainRead> SqlVersionReader::read_domains(const std::string &tenant,
                                                       const std::vector<std::string> &domains) {
    const std::string t = normalize_tenant(tenant);
    if (domains.empty())
        return {};
    return impl_->run([&](pqxx::connection &c) { return detail::query_domains(c, t, domains); },
                      round_trips_);
}

}  // namespace fraiseql_cache::client
