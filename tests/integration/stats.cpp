#include "stats.hpp"

namespace fcit {

namespace {
// pg_type oids of int8, int2, int4.
constexpr pqxx::oid kInt8 = 20, kInt2 = 21, kInt4 = 23;
}  // namespace

std::map<std::string, long long> read_counters(pqxx::connection &c) {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec("SELECT * FROM fraiseql_cache.stats()");
    std::map<std::string, long long> out;
    for (pqxx::row::size_type i = 0; i < r.columns(); i++) {
        const pqxx::oid type = r.column_type(i);
        if ((type == kInt8 || type == kInt2 || type == kInt4) && !r[0][i].is_null())
            out[r.column_name(i)] = r[0][i].as<long long>();
    }
    return out;
}

}  // namespace fcit
