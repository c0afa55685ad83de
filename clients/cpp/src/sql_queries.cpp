#include "sql_queries.hpp"

#include "sql_literals.hpp"

namespace fraiseql_cache::client::detail {

std::unique_ptr<pqxx::connection> open_connection(const std::string &conninfo) {
    auto c = std::make_unique<pqxx::connection>(conninfo);
#if PQXX_VERSION_MAJOR < 7
    // Deprecated in 6.4, but reactivation is still on by default there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
#endif
    return c;
}

std::vector<Version> query_current_versions(pqxx::connection &c, const std::string &tenant,
                                            const std::vector<std::string> &domains) {
    std::vector<Version> out;
    if (domains.empty())
        return out;
    pqxx::nontransaction tx(c);
    // The array comes back element by element: no array parsing needed.
    pqxx::result r = tx.exec_params(
        "SELECT v FROM unnest(fraiseql_cache.current_versions($1::uuid, $2::text[])) "
        "WITH ORDINALITY AS u(v, n) ORDER BY n",
        tenant, text_array_literal(domains));
    out.reserve(r.size());
    for (const auto &row : r)
        out.push_back(row[0].as<long long>());
    if (out.size() != domains.size())
        throw std::runtime_error("current_versions() returned " + std::to_string(out.size()) +
                                 " versions for " + std::to_string(domains.size()) + " domains");
    return out;
}

std::vector<DomainRead> query_domains(pqxx::connection &c, const std::string &tenant,
                                      const std::vector<std::string> &domains) {
    std::vector<DomainRead> out;
    if (domains.empty())
        return out;
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_params(
        "SELECT fraiseql_cache.current_version($1::uuid, u.d), "
        "       EXISTS (SELECT 1 FROM fraiseql_cache.tracked_tables t "
        "                WHERE t.domain = u.d AND t.tenant_column IS NULL) "
        "  FROM unnest($2::text[]) WITH ORDINALITY AS u(d, n) ORDER BY u.n",
        tenant, text_array_literal(domains));
    out.reserve(r.size());
    for (const auto &row : r)
        out.push_back(DomainRead{row[0].as<long long>(), row[1].as<bool>()});
    if (out.size() != domains.size())
        throw std::runtime_error("version query returned " + std::to_string(out.size()) +
                                 " rows for " + std::to_string(domains.size()) + " domains");
    return out;
}

LoadResult query_load(pqxx::connection &c, const std::vector<PairKey> &pairs) {
    std::vector<std::string> tenants, domains;
    tenants.reserve(pairs.size());
    domains.reserve(pairs.size());
    for (const PairKey &p : pairs) {
        tenants.push_back(p.tenant);
        domains.push_back(p.domain);
    }
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_params(
        "SELECT u.n, fraiseql_cache.current_version(u.t, u.d), NULL::text "
        "  FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS u(t, d, n) "
        "UNION ALL "
        "SELECT NULL, NULL, domain FROM fraiseql_cache.tracked_tables "
        " WHERE tenant_column IS NULL GROUP BY domain",
        text_array_literal(tenants), text_array_literal(domains));
    LoadResult out;
    out.versions.assign(pairs.size(), 0);
    std::size_t seen = 0;
    for (const auto &row : r) {
        if (row[0].is_null()) {
            out.global_domains.push_back(row[2].as<std::string>());
            continue;
        }
        long long n = row[0].as<long long>();
        if (n < 1 || std::size_t(n) > pairs.size())
            throw std::runtime_error("version load returned an unexpected row");
        out.versions[std::size_t(n - 1)] = row[1].as<long long>();
        seen++;
    }
    if (seen != pairs.size())
        throw std::runtime_error("version load returned " + std::to_string(seen) + " rows for " +
                                 std::to_string(pairs.size()) + " pairs");
    return out;
}

bool is_connection_loss(const std::exception &e) {
    if (dynamic_cast<const pqxx::broken_connection *>(&e) != nullptr)
        return true;
    if (auto *s = dynamic_cast<const pqxx::sql_error *>(&e)) {
        const std::string state = s->sqlstate();
        // 57P01 admin_shutdown (pg_terminate_backend), 57P02 crash_shutdown,
        // 57P03 cannot_connect_now, class 08 connection exceptions.
        return state == "57P01" || state == "57P02" || state == "57P03" ||
               state.rfind("08", 0) == 0;
    }
    return false;
}

}  // namespace fraiseql_cache::client::detail
