#include "contract_repository.hpp"

#include <stdexcept>

namespace contracts_api {

namespace {
bool is_identifier(const std::string &s) {
    if (s.empty() || s.size() > 63 || !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_'))
        return false;
    for (char c : s)
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
              c == '_'))
            return false;
    return true;
}
}  // namespace

ContractRepository::ContractRepository(const std::string &conninfo, const std::string &table)
    : conninfo_(conninfo), table_(table) {
    if (!is_identifier(table))
        throw std::invalid_argument("not a plain table name: " + table);
}

pqxx::connection &ContractRepository::conn() {
    if (!conn_ || !conn_->is_open())
        conn_ = std::make_unique<pqxx::connection>(conninfo_);
    return *conn_;
}

std::string ContractRepository::list_json(const std::string &tenant) {
    std::lock_guard<std::mutex> lock(mu_);
    list_queries_.fetch_add(1, std::memory_order_relaxed);
    try {
        pqxx::nontransaction tx(conn());
        pqxx::result r = tx.exec_params(
            "SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'amount', amount) "
            "ORDER BY id), '[]')::text FROM " + table_ + " WHERE tenant_id = $1::uuid",
            tenant);
        return r[0][0].as<std::string>();
    } catch (const pqxx::broken_connection &) {
        conn_.reset();
        throw;
    }
}

bool ContractRepository::rename(const std::string &tenant, long long id, const std::string &name) {
    std::lock_guard<std::mutex> lock(mu_);
    try {
        pqxx::work tx(conn());
        pqxx::result r = tx.exec_params(
            "UPDATE " + table_ + " SET name = $3 WHERE tenant_id = $1::uuid AND id = $2", tenant, id, name);
        tx.commit();
        return r.affected_rows() == 1;
    } catch (const pqxx::broken_connection &) {
        conn_.reset();
        throw;
    }
}

}  // namespace contracts_api
