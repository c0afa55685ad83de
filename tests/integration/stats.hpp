// fraiseql_cache.stats(), read by the tests: counters since server start and
// sizes.
#pragma once

#include <map>
#include <string>

#include <pqxx/pqxx>

namespace fcit {

// Every integer column of stats() by name (overflows, resets, ring_size,
// wait_timeouts, ...); columns of other types (serving, the lags) are left
// out.
std::map<std::string, long long> read_counters(pqxx::connection &c);

}  // namespace fcit
