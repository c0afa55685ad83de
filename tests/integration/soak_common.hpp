// Helpers shared by the long-running tests of the `soak_tests` program
// (soak_test.cpp, oracle_test.cpp). Header-only: it has no source file of
// its own in meson.build.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>

#include "harness.hpp"

namespace fcit {
namespace soak {

// FRAISEQL_SOAK_SECONDS: how long each soak/oracle test runs (default 60).
inline int soak_seconds() {
    if (const char *s = std::getenv("FRAISEQL_SOAK_SECONDS"); s && *s) {
        int v = std::atoi(s);
        if (v > 0)
            return v;
    }
    return 60;
}

// The harness's program watchdog defaults to 240 s, shorter than the sum of
// these tests at a long FRAISEQL_SOAK_SECONDS. Unless the caller set
// FRAISEQL_INTEGRATION_TIMEOUT_S, raise it to fit (the watchdog reads the
// variable when RUN_ALL_TESTS starts, after static initialisation).
inline bool raise_watchdog() {
    if (const char *s = std::getenv("FRAISEQL_INTEGRATION_TIMEOUT_S"); s && *s)
        return false;
    const int limit = std::max(240, 3 * soak_seconds() + 300);
    ::setenv("FRAISEQL_INTEGRATION_TIMEOUT_S", std::to_string(limit).c_str(), 1);
    return true;
}

// A session driven with explicit BEGIN/COMMIT/ROLLBACK/SAVEPOINT statements
// through one long-lived pqxx::nontransaction: pqxx's own transaction classes
// abort on the first failed statement (no ROLLBACK TO SAVEPOINT after an
// error) and would hide what the server answered to COMMIT. Whether a
// transaction committed is decided by pg_xact_status() of its xid, never by
// what the client believes.
class Session {
  public:
    explicit Session(std::unique_ptr<pqxx::connection> c) : conn_(std::move(c)) {
        // A silently re-established connection would hide a lost transaction.
#if PQXX_VERSION_MAJOR < 7
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        conn_->inhibit_reactivation(true);
#pragma GCC diagnostic pop
#endif
        tx_ = std::make_unique<pqxx::nontransaction>(*conn_);
    }
    ~Session() {
        tx_.reset();
        conn_.reset();
    }
    pqxx::result exec(const std::string &sql) { return tx_->exec(sql); }
    template <typename... Args>
    pqxx::result exec_params(const std::string &sql, Args &&...args) {
        return tx_->exec_params(sql, std::forward<Args>(args)...);
    }
    pqxx::connection &conn() { return *conn_; }

  private:
    std::unique_ptr<pqxx::connection> conn_;
    std::unique_ptr<pqxx::nontransaction> tx_;
};

// "{a,b,c}" for values that need no quoting (uuids, integers).
template <typename Container>
std::string array_literal(const Container &items) {
    std::string s = "{";
    bool first = true;
    for (const auto &x : items) {
        if (!first)
            s += ',';
        first = false;
        s += x;
    }
    return s + "}";
}

}  // namespace soak
}  // namespace fcit
