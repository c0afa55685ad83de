#include "client_env.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

namespace fcct {

namespace {

// A hung server or a lost wake-up must not hold the runner forever.
class Watchdog : public ::testing::Environment {
  public:
    void SetUp() override {
        long limit = 300;
        if (const char *s = std::getenv("FRAISEQL_CLIENT_TEST_TIMEOUT_S"))
            limit = std::max(10L, std::atol(s));
        std::thread([limit] {
            std::this_thread::sleep_for(seconds(limit));
            std::fprintf(stderr, "client_integration_tests: watchdog: still running after %ld s\n",
                         limit);
            std::fflush(stderr);
            std::_Exit(3);
        }).detach();
    }
};
::testing::Environment *const watchdog = ::testing::AddGlobalTestEnvironment(new Watchdog);

std::mt19937_64 &rng() {
    static thread_local std::mt19937_64 g{std::random_device{}() ^
                                          (std::uint64_t(::getpid()) << 32) ^
                                          std::uint64_t(Clock::now().time_since_epoch().count())};
    return g;
}

}  // namespace

std::string conninfo() {
    return "connect_timeout=10 application_name=fraiseql_client_test "
           "options='-c statement_timeout=30000 -c client_min_messages=warning'";
}

std::unique_ptr<pqxx::connection> connect() { return std::make_unique<pqxx::connection>(conninfo()); }

void exec(pqxx::connection &c, const std::string &sql) {
    pqxx::nontransaction tx(c);
    tx.exec(sql);
}

long long query_ll(pqxx::connection &c, const std::string &sql) {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec(sql);
    return r[0][0].as<long long>();
}

long long version(pqxx::connection &c, const std::string &tenant, const std::string &domain) {
    pqxx::nontransaction tx(c);
    pqxx::result r =
        tx.exec_params("SELECT fraiseql_cache.current_version($1::uuid, $2::text)", tenant, domain);
    return r[0][0].as<long long>();
}

std::string new_uuid() {
    std::uniform_int_distribution<int> nibble(0, 15);
    std::string s;
    for (int i = 0; i < 32; i++) {
        int v = nibble(rng());
        if (i == 12)
            v = 4;
        if (i == 16)
            v = 8 | (v & 3);
        if (i == 8 || i == 12 || i == 16 || i == 20)
            s += '-';
        s += "0123456789abcdef"[v];
    }
    return s;
}

std::string random_hex(std::size_t n) {
    std::uniform_int_distribution<int> nibble(0, 15);
    std::string s;
    for (std::size_t i = 0; i < n; i++)
        s += "0123456789abcdef"[nibble(rng())];
    return s;
}

bool wait_until(const std::function<bool()> &pred, milliseconds timeout, milliseconds interval) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (pred())
            return true;
        if (Clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(interval);
    }
}

bool terminate_backend(pqxx::connection &c, int pid) {
    if (pid <= 0)
        return false;
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_params("SELECT pg_terminate_backend($1)", pid);
    return r[0][0].as<bool>();
}

bool redis_configured() { return std::getenv("FRAISEQL_REDIS_PORT") != nullptr; }

std::string redis_host() {
    const char *h = std::getenv("FRAISEQL_REDIS_HOST");
    return h && *h ? h : "127.0.0.1";
}

int redis_port() {
    const char *p = std::getenv("FRAISEQL_REDIS_PORT");
    return p ? std::atoi(p) : 0;
}

void ClientTest::SetUp() {
    try {
        conn_ = connect();
    } catch (const std::exception &e) {
        FAIL() << "cannot connect (PGHOST=" << (std::getenv("PGHOST") ?: "")
               << " PGPORT=" << (std::getenv("PGPORT") ?: "") << "): " << e.what();
    }
    exec(*conn_, "CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache");
    // The worker serves once a committed write shows at once.
    std::string probe = make_table("probe");
    std::string tenant = new_uuid();
    int id = 0;
    bool serving = wait_until(
        [&] {
            long long before = version(*conn_, tenant, domain_of(probe));
            exec(*conn_, "INSERT INTO " + probe + " (id, tenant_id, val) VALUES (" +
                             std::to_string(++id) + ", '" + tenant + "', 0)");
            return version(*conn_, tenant, domain_of(probe)) > before;
        },
        seconds(60), milliseconds(50));
    ASSERT_TRUE(serving) << "the fraiseql_cache worker does not serve";
}

void ClientTest::TearDown() {
    try {
        if (!conn_ || !conn_->is_open())
            conn_ = connect();
        for (auto it = tables_.rbegin(); it != tables_.rend(); ++it) {
            exec(*conn_, "SELECT fraiseql_cache.remove_table_invalidation('" + *it + "')");
            exec(*conn_, "DROP TABLE IF EXISTS " + *it);
        }
    } catch (const std::exception &e) {
        ADD_FAILURE() << "cleanup failed: " << e.what();
    }
    tables_.clear();
}

std::string ClientTest::make_table(const std::string &stem, bool global) {
    std::string name = "tv_cl_" + stem + "_" + random_hex(8);
    if (global)
        exec(*conn_, "CREATE TABLE " + name + " (id int PRIMARY KEY, val bigint NOT NULL DEFAULT 0)");
    else
        exec(*conn_, "CREATE TABLE " + name +
                         " (id int PRIMARY KEY, tenant_id uuid, val bigint NOT NULL DEFAULT 0)");
    tables_.push_back(name);
    exec(*conn_, "SELECT fraiseql_cache.setup_table_invalidation('" + name + "', NULL, " +
                     (global ? "NULL" : "'tenant_id'") + ")");
    return name;
}

}  // namespace fcct
