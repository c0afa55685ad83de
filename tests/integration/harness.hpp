// Shared helpers for the C++ integration tests (GoogleTest + libpqxx).
//
// The tests talk to a running server through the standard libpq variables
// (PGHOST, PGPORT, PGUSER, PGDATABASE), as started by scripts/cluster.sh.
// The restart tests drive the same script (env FRAISEQL_CLUSTER_SCRIPT, else
// scripts/cluster.sh under FRAISEQL_SOURCE_DIR, else found by walking up from
// the current directory or from the test binary).
//
// Written against libpqxx 6.4 (Debian 12) and 7.x: only the API both share.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

namespace fcit {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The all-tenants id: bumped with every tenant bump; the tenant of globals.
extern const char *const kAllTenants;

// Connection string: libpq reads host/port/user/database from the
// environment; this adds a connect timeout, a statement timeout (no test can
// hang on a lock forever) and hides NOTICEs.
std::string conninfo();

// Connects, retrying until `timeout` (the server may be restarting).
// Throws the last error when the deadline passes.
std::unique_ptr<pqxx::connection> connect(milliseconds timeout = seconds(30),
                                          milliseconds retry_interval = milliseconds(100));
// The same with an explicit connection string (e.g. another cluster's).
std::unique_ptr<pqxx::connection> connect_to(const std::string &info,
                                             milliseconds timeout = seconds(30),
                                             milliseconds retry_interval = milliseconds(50));
// Closes a connection, ignoring errors (the server may be gone already).
void close_connection(pqxx::connection &c);
void close_connection(std::unique_ptr<pqxx::connection> &c);  // and resets it

// Runs one statement in autocommit mode (its own transaction; SET stays
// for the session).
void exec(pqxx::connection &c, const std::string &sql);
// Runs a query returning one row and one column, as a 64-bit integer.
long long query_ll(pqxx::connection &c, const std::string &sql);
std::string query_str(pqxx::connection &c, const std::string &sql);

// `s` quoted for /bin/sh.
std::string shell_quote(const std::string &s);
// Runs a shell command (stdout and stderr to `output`, when given); returns
// its exit status as std::system() does.
int run_command(const std::string &cmd, std::string *output);
// `u` as an SQL uuid literal: 'u'::uuid.
std::string uuid_lit(const std::string &u);

// A random version-4 uuid, as text.
std::string new_uuid();
// A short random lowercase hex string (for names unique per run).
std::string random_hex(std::size_t n);

// fraiseql_cache.current_version(tenant, domain).
long long version(pqxx::connection &c, const std::string &tenant, const std::string &domain);
// fraiseql_cache.current_versions(tenant, domains), element by element.
std::vector<long long> versions(pqxx::connection &c, const std::string &tenant,
                                const std::vector<std::string> &domains);

using PairKey = std::pair<std::string, std::string>;  // (tenant, domain)
// fraiseql_cache.wait_for_persistence(): domain_version holds every version
// current_version() returned so far (it trails shared memory by the
// worker's transaction). Throws after 30 s. persisted_version(s) call it.
void wait_for_persistence(pqxx::connection &c);
// Every row of fraiseql_cache.domain_version.
std::map<PairKey, long long> persisted_versions(pqxx::connection &c);
// One row of domain_version; -1 when there is none.
long long persisted_version(pqxx::connection &c, const std::string &tenant,
                            const std::string &domain);
// current_version() of every pair in domain_version, in one query, once the
// table holds every pair published so far (wait_for_persistence()).
std::map<PairKey, long long> all_current_versions(pqxx::connection &c);
// "(tenant, domain)", for messages.
std::string describe(const PairKey &k);
// The pairs of `before` whose version in `after` is not above the one in
// `before` (a pair missing from `after` reads -1): how many, and the first
// five, each as " (tenant, domain): <before> -> <after>".
struct NotRaised {
    int count = 0;
    std::string first;
};
NotRaised pairs_not_raised(const std::map<PairKey, long long> &before,
                           const std::map<PairKey, long long> &after);

// Number of running workers (pg_stat_activity), and the worker's pid (0: none).
int worker_count(pqxx::connection &c);
int worker_pid(pqxx::connection &c);

// Polls `pred` every `interval` until it returns true or `timeout` passes.
bool wait_until(const std::function<bool()> &pred, milliseconds timeout,
                milliseconds interval = milliseconds(20));

// SQLSTATE of an exception, or "" when it carries none.
std::string sqlstate_of(const std::exception &e);
// True for errors meaning "the server went away" (a restart or crash).
bool is_connection_loss(const std::exception &e);

// ---- cluster control -------------------------------------------------------

// Absolute path of scripts/cluster.sh, or "" when it cannot be found.
std::string cluster_script();

// Runs `cluster.sh restart <mode>` (mode: fast | immediate) for the cluster
// the tests are connected to. Returns "" on success, else what went wrong.
// `c` is used (before the restart) to check that the script's cluster
// directory is the one serving the tests, so another cluster is never touched.
std::string cluster_restart(pqxx::connection &c, const std::string &mode);

// ---- fixture ---------------------------------------------------------------

class IntegrationTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    // "tv_it_<stem>" (stem lowercased, truncated so the name fits in 63
    // bytes); dropped again in TearDown. Its domain is the name minus "tv_".
    std::string table_name(const std::string &stem);
    static std::string domain_of(const std::string &table);

    // CREATE TABLE <name> (<columns>) after dropping any leftover, and
    // registers it for TearDown.
    void create_table(const std::string &name, const std::string &columns_and_options);
    // Registers a table (e.g. a partition) for dropping in TearDown.
    void drop_later(const std::string &name);
    // A tenant-scoped table named table_name(stem): (id int PRIMARY KEY,
    // tenant_id uuid [NOT NULL], val int NOT NULL DEFAULT 0); created (and
    // registered for TearDown), or also tracked with the defaults.
    enum class Tenant { kRequired, kNullable };
    std::string create_tenant_table(const std::string &stem, Tenant tenant);
    std::string make_tenant_table(const std::string &stem = "", Tenant tenant = Tenant::kRequired);
    // setup_table_invalidation(table, domain, tenant_column); pass nullptr for
    // an SQL NULL, or use the overload for the defaults.
    std::string track(const std::string &table);
    std::string track(const std::string &table, const char *domain, const char *tenant_column);

    // A probe table of its own domain; waits (bounded) until a write to it is
    // reflected by current_version(): the worker is up and serving. Reconnects
    // `conn_` if the server went away. Returns "" or what went wrong.
    std::string wait_until_serving(seconds timeout = seconds(60));

    // Re-establishes conn_ after a restart (bounded).
    void reconnect();

    std::unique_ptr<pqxx::connection> conn_;
    std::string test_name_;
    std::vector<std::string> tables_;  // dropped in reverse order
    std::string probe_table_;
};

}  // namespace fcit
