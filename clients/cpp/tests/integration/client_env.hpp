// Helpers for the client integration tests: a running server (PGHOST,
// PGPORT, PGUSER, PGDATABASE, as scripts/cluster.sh env prints them) with
// pg_fraiseql_cache, and for the Redis tests a redis-server
// (FRAISEQL_REDIS_HOST, FRAISEQL_REDIS_PORT; scripts/test_clients.sh starts
// one). libpqxx 6.4 and 7.x.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

namespace fcct {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// libpq reads host, port, user and database from the environment.
std::string conninfo();
std::unique_ptr<pqxx::connection> connect();
void exec(pqxx::connection &c, const std::string &sql);
long long query_ll(pqxx::connection &c, const std::string &sql);
long long version(pqxx::connection &c, const std::string &tenant, const std::string &domain);

std::string new_uuid();
std::string random_hex(std::size_t n);

bool wait_until(const std::function<bool()> &pred, milliseconds timeout,
                milliseconds interval = milliseconds(5));

// pg_terminate_backend(pid) from `c`; true when the backend was signalled.
bool terminate_backend(pqxx::connection &c, int pid);

// The Redis server of the tests; the test fails when it is not configured
// (set FRAISEQL_SKIP_REDIS=1 to skip those tests instead).
bool redis_configured();
std::string redis_host();
int redis_port();

// A fixture with a connection and tracked tables dropped in TearDown.
class ClientTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    // A fresh table tv_cl_<stem>_<random> with (id int PRIMARY KEY,
    // tenant_id uuid, val bigint), tracked; returns its name. Its domain is
    // the name without tv_. `global`: no tenant column (a global domain).
    std::string make_table(const std::string &stem, bool global = false);
    static std::string domain_of(const std::string &table) { return table.substr(3); }

    std::unique_ptr<pqxx::connection> conn_;
    std::vector<std::string> tables_;
};

}  // namespace fcct
