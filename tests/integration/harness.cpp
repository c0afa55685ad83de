#include "harness.hpp"

#include "server_log.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

namespace fcit {

const char *const kAllTenants = "00000000-0000-0000-0000-000000000000";

namespace {

// A watchdog for the whole program: a hung server or a lost wake-up must not
// hold the test runner forever. FRAISEQL_INTEGRATION_TIMEOUT_S overrides.
class Watchdog : public ::testing::Environment {
  public:
    void SetUp() override {
        long limit = 240;
        if (const char *s = std::getenv("FRAISEQL_INTEGRATION_TIMEOUT_S"))
            limit = std::max(10L, std::atol(s));
        std::thread([limit] {
            std::this_thread::sleep_for(seconds(limit));
            std::fprintf(stderr,
                         "integration_tests: watchdog: still running after %ld s, aborting\n",
                         limit);
            std::fflush(stderr);
            std::_Exit(3);
        }).detach();
    }
};
::testing::Environment *const watchdog = ::testing::AddGlobalTestEnvironment(new Watchdog);

std::mt19937_64 &rng() {
    static thread_local std::mt19937_64 g{std::random_device{}() ^ (uint64_t(::getpid()) << 32) ^
                                          uint64_t(Clock::now().time_since_epoch().count())};
    return g;
}

std::string lower(std::string s) {
    for (char &ch : s)
        ch = char(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

bool is_file(const std::string &p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string real_path(const std::string &p) {
    char buf[PATH_MAX];
    if (::realpath(p.c_str(), buf) == nullptr)
        return p;
    return buf;
}

std::string parent_dir(const std::string &p) {
    std::string s = p;
    while (s.size() > 1 && s.back() == '/')
        s.pop_back();
    auto slash = s.rfind('/');
    if (slash == std::string::npos)
        return ".";
    if (slash == 0)
        return "/";
    return s.substr(0, slash);
}

// Looks for scripts/cluster.sh in `dir` and its parents.
std::string find_upwards(std::string dir) {
    for (int i = 0; i < 8 && !dir.empty(); i++) {
        std::string candidate = dir + "/scripts/cluster.sh";
        if (is_file(candidate))
            return real_path(candidate);
        if (dir == "/")
            break;
        dir = parent_dir(dir);
    }
    return "";
}


}  // namespace

std::string shell_quote(const std::string &s) {
    std::string out = "'";
    for (char ch : s) {
        if (ch == '\'')
            out += "'\\''";
        else
            out += ch;
    }
    return out + "'";
}

std::string conninfo() {
    return "connect_timeout=10 application_name=fraiseql_integration "
           "options='-c statement_timeout=30000 -c client_min_messages=warning'";
}

std::unique_ptr<pqxx::connection> connect(milliseconds timeout, milliseconds retry_interval) {
    return connect_to(conninfo(), timeout, retry_interval);
}

std::unique_ptr<pqxx::connection> connect_to(const std::string &info, milliseconds timeout,
                                             milliseconds retry_interval) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        try {
            auto c = std::make_unique<pqxx::connection>(info);
            if (c->is_open())
                return c;
        } catch (const std::exception &e) {
            // The server may be starting up, shutting down or in crash
            // recovery; anything else (bad credentials...) also ends here,
            // and the deadline reports it.
            if (Clock::now() >= deadline)
                throw;
        }
        if (Clock::now() >= deadline)
            throw pqxx::broken_connection("could not connect before the deadline: " + info);
        std::this_thread::sleep_for(retry_interval);
    }
}

void close_connection(pqxx::connection &c) {
    try {
#if PQXX_VERSION_MAJOR >= 7
        c.close();
#else
        c.disconnect();
#endif
    } catch (...) {
    }
}

void close_connection(std::unique_ptr<pqxx::connection> &c) {
    if (!c)
        return;
    close_connection(*c);
    c.reset();
}

int run_command(const std::string &cmd, std::string *output) {
    char out_path[] = "/tmp/fcit_cmd_XXXXXX";
    int fd = ::mkstemp(out_path);
    if (fd >= 0)
        ::close(fd);
    int rc = std::system((cmd + " >" + shell_quote(out_path) + " 2>&1").c_str());
    if (output)
        *output = read_file_from(out_path, 0);
    ::unlink(out_path);
    return rc;
}

std::string uuid_lit(const std::string &u) { return "'" + u + "'::uuid"; }

void exec(pqxx::connection &c, const std::string &sql) {
    pqxx::nontransaction tx(c);
    tx.exec(sql);
}

long long query_ll(pqxx::connection &c, const std::string &sql) {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec(sql);
    if (r.size() != 1 || r.columns() != 1)
        throw std::runtime_error("expected one value from: " + sql);
    return r[0][0].as<long long>();
}

std::string query_str(pqxx::connection &c, const std::string &sql) {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec(sql);
    if (r.size() != 1 || r.columns() != 1)
        throw std::runtime_error("expected one value from: " + sql);
    return r[0][0].is_null() ? std::string() : r[0][0].as<std::string>();
}

std::string new_uuid() {
    std::uniform_int_distribution<int> nibble(0, 15);
    static const char *hex = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 32; i++) {
        int v = nibble(rng());
        if (i == 12)
            v = 4;
        if (i == 16)
            v = 8 | (v & 3);
        if (i == 8 || i == 12 || i == 16 || i == 20)
            s += '-';
        s += hex[v];
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

long long version(pqxx::connection &c, const std::string &tenant, const std::string &domain) {
    pqxx::nontransaction tx(c);
    pqxx::result r =
        tx.exec_params("SELECT fraiseql_cache.current_version($1::uuid, $2::text)", tenant, domain);
    return r[0][0].as<long long>();
}

std::vector<long long> versions(pqxx::connection &c, const std::string &tenant,
                                const std::vector<std::string> &domains) {
    // The array goes in as text and comes back element by element (no array
    // parsing needed in either libpqxx version).
    std::string lit = "{";
    for (std::size_t i = 0; i < domains.size(); i++) {
        if (i)
            lit += ',';
        lit += '"' + domains[i] + '"';
    }
    lit += '}';
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_params(
        "SELECT v FROM unnest(fraiseql_cache.current_versions($1::uuid, $2::text[])) "
        "WITH ORDINALITY AS u(v, n) ORDER BY n",
        tenant, lit);
    std::vector<long long> out;
    for (const auto &row : r)
        out.push_back(row[0].as<long long>());
    return out;
}

// domain_version trails shared memory by the worker's transaction: wait
// until it holds everything current_version() has returned so far.
void wait_for_persistence(pqxx::connection &c) {
    if (query_str(c, "SELECT fraiseql_cache.wait_for_persistence(30000)") != "t")
        throw std::runtime_error("domain_version did not catch up with shared memory in 30 s");
}

std::map<PairKey, long long> persisted_versions(pqxx::connection &c) {
    wait_for_persistence(c);
    pqxx::nontransaction tx(c);
    pqxx::result r =
        tx.exec("SELECT tenant_id::text, domain, version FROM fraiseql_cache.domain_version");
    std::map<PairKey, long long> out;
    for (const auto &row : r)
        out[{row[0].as<std::string>(), row[1].as<std::string>()}] = row[2].as<long long>();
    return out;
}

long long persisted_version(pqxx::connection &c, const std::string &tenant,
                            const std::string &domain) {
    wait_for_persistence(c);
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_params(
        "SELECT version FROM fraiseql_cache.domain_version WHERE tenant_id = $1::uuid "
        "AND domain = $2",
        tenant, domain);
    if (r.empty())
        return -1;
    return r[0][0].as<long long>();
}

std::map<PairKey, long long> all_current_versions(pqxx::connection &c) {
    // Every pair published so far has its row (they are listed from the table).
    wait_for_persistence(c);
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec(
        "SELECT tenant_id::text, domain, fraiseql_cache.current_version(tenant_id, domain) "
        "FROM fraiseql_cache.domain_version");
    std::map<PairKey, long long> out;
    for (const auto &row : r)
        out[{row[0].as<std::string>(), row[1].as<std::string>()}] = row[2].as<long long>();
    return out;
}

std::string describe(const PairKey &k) { return "(" + k.first + ", " + k.second + ")"; }

NotRaised pairs_not_raised(const std::map<PairKey, long long> &before,
                           const std::map<PairKey, long long> &after) {
    NotRaised out;
    for (const auto &[key, v] : before) {
        auto it = after.find(key);
        long long a = it == after.end() ? -1 : it->second;
        if (a <= v && out.count++ < 5)
            out.first += " " + describe(key) + ": " + std::to_string(v) + " -> " + std::to_string(a);
    }
    return out;
}

// Workers serving the connection's database (one per served database).
int worker_count(pqxx::connection &c) {
    return int(query_ll(c,
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE backend_type = 'fraiseql_cache worker' "
                        "AND datname = current_database()"));
}

int worker_pid(pqxx::connection &c) {
    return int(query_ll(c,
                        "SELECT coalesce(max(pid), 0) FROM pg_stat_activity "
                        "WHERE backend_type = 'fraiseql_cache worker'"));
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

std::string sqlstate_of(const std::exception &e) {
    if (auto *s = dynamic_cast<const pqxx::sql_error *>(&e))
        return s->sqlstate();
    return "";
}

bool is_connection_loss(const std::exception &e) {
    if (dynamic_cast<const pqxx::broken_connection *>(&e) ||
        dynamic_cast<const pqxx::in_doubt_error *>(&e))
        return true;
    std::string state = sqlstate_of(e);
    // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
    // class 08 connection exceptions.
    if (state == "57P01" || state == "57P02" || state == "57P03" || state.rfind("08", 0) == 0)
        return true;
    std::string what = e.what();
    return what.find("server closed the connection") != std::string::npos ||
           what.find("terminating connection") != std::string::npos ||
           what.find("connection to server") != std::string::npos ||
           what.find("Lost connection") != std::string::npos ||
           what.find("no connection to the server") != std::string::npos;
}

std::string cluster_script() {
    if (const char *s = std::getenv("FRAISEQL_CLUSTER_SCRIPT"); s && *s)
        return is_file(s) ? real_path(s) : "";
    if (const char *src = std::getenv("FRAISEQL_SOURCE_DIR"); src && *src) {
        std::string candidate = std::string(src) + "/scripts/cluster.sh";
        if (is_file(candidate))
            return real_path(candidate);
    }
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) != nullptr) {
        std::string found = find_upwards(cwd);
        if (!found.empty())
            return found;
    }
    // The binary lives in <repo>/build/meson.
    char exe[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        return find_upwards(parent_dir(exe));
    }
    return "";
}

std::string cluster_restart(pqxx::connection &c, const std::string &mode) {
    std::string script = cluster_script();
    if (script.empty())
        return "scripts/cluster.sh not found: set FRAISEQL_CLUSTER_SCRIPT or FRAISEQL_SOURCE_DIR";
    // The cluster the tests are connected to: its directory is the parent of
    // its data directory (scripts/cluster.sh layout).
    std::string data_dir;
    try {
        data_dir = query_str(c, "SHOW data_directory");
    } catch (const std::exception &e) {
        return std::string("cannot read data_directory: ") + e.what();
    }
    std::string served = real_path(parent_dir(data_dir));
    const char *env_dir = std::getenv("FRAISEQL_CLUSTER_DIR");
    if (env_dir && *env_dir) {
        if (real_path(env_dir) != served)
            return "FRAISEQL_CLUSTER_DIR=" + std::string(env_dir) +
                   " is not the cluster the tests are connected to (" + served +
                   "); refusing to restart another cluster";
    } else {
        if (!is_file(served + "/data/PG_VERSION"))
            return "cannot tell the cluster directory (data_directory " + data_dir +
                   "); set FRAISEQL_CLUSTER_DIR";
        ::setenv("FRAISEQL_CLUSTER_DIR", served.c_str(), 1);
    }
    // Ours would end with the server anyway.
    close_connection(c);

    std::string cmd = "timeout 120 " + shell_quote(script) + " restart " + shell_quote(mode);
    std::string output;
    int rc = run_command(cmd, &output);
    if (rc != 0)
        return "`" + cmd + "` failed (status " + std::to_string(rc) + "): " + output +
               "\nserver.log tail:\n" + last_lines(read_file_from(served + "/server.log", 0), 20);
    return "";
}

// ---- fixture ---------------------------------------------------------------

namespace {
// Set once the server could not be reached at the start of a test: the
// remaining tests then fail at once instead of each waiting out a timeout.
std::atomic<bool> server_unreachable{false};
}  // namespace

void IntegrationTest::SetUp() {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    test_name_ = lower(info->name());
    try {
        conn_ = connect(server_unreachable ? seconds(1) : seconds(60));
    } catch (const std::exception &e) {
        server_unreachable = true;
        FAIL() << "cannot connect to the server (PGHOST=" << (std::getenv("PGHOST") ?: "")
               << " PGPORT=" << (std::getenv("PGPORT") ?: "") << "): " << e.what();
    }
    exec(*conn_, "CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache");
    // A previous test may have restarted or crashed the server: start only
    // once the worker serves (a write is reflected at once).
    std::string why = wait_until_serving(seconds(60));
    ASSERT_EQ(why, "") << "the fraiseql_cache worker does not serve";
}

void IntegrationTest::TearDown() {
    if (server_unreachable)
        return;
    try {
        if (!conn_ || !conn_->is_open())
            conn_ = connect(seconds(60));
        for (auto it = tables_.rbegin(); it != tables_.rend(); ++it) {
            try {
                exec(*conn_, "SELECT fraiseql_cache.remove_table_invalidation(" +
                                 conn_->quote(*it) + ") FROM pg_class WHERE oid = to_regclass(" +
                                 conn_->quote(*it) + ") AND NOT relispartition");
            } catch (const std::exception &) {
                if (!conn_->is_open())
                    conn_ = connect(seconds(30));
            }
            exec(*conn_, "DROP TABLE IF EXISTS " + conn_->quote_name(*it) + " CASCADE");
        }
    } catch (const std::exception &e) {
        ADD_FAILURE() << "cleanup failed: " << e.what();
    }
    tables_.clear();
    conn_.reset();
}

std::string IntegrationTest::table_name(const std::string &stem) {
    std::string name = "tv_it_" + test_name_;
    std::string tail = stem.empty() ? "" : "_" + lower(stem);
    if (name.size() + tail.size() > 63)
        name.resize(63 - tail.size());
    return name + tail;
}

std::string IntegrationTest::domain_of(const std::string &table) {
    if (table.rfind("tv_", 0) == 0 || table.rfind("tb_", 0) == 0)
        return table.substr(3);
    return table;
}

void IntegrationTest::create_table(const std::string &name, const std::string &columns) {
    exec(*conn_, "DROP TABLE IF EXISTS " + conn_->quote_name(name) + " CASCADE");
    exec(*conn_, "CREATE TABLE " + conn_->quote_name(name) + " " + columns);
    drop_later(name);
}

std::string IntegrationTest::create_tenant_table(const std::string &stem, Tenant tenant) {
    std::string t = table_name(stem);
    create_table(t, std::string("(id int PRIMARY KEY, tenant_id uuid") +
                        (tenant == Tenant::kRequired ? " NOT NULL" : "") +
                        ", val int NOT NULL DEFAULT 0)");
    return t;
}

std::string IntegrationTest::make_tenant_table(const std::string &stem, Tenant tenant) {
    std::string t = create_tenant_table(stem, tenant);
    track(t);
    return t;
}

void IntegrationTest::drop_later(const std::string &name) {
    if (std::find(tables_.begin(), tables_.end(), name) == tables_.end())
        tables_.push_back(name);
}

std::string IntegrationTest::track(const std::string &table) {
    return query_str(*conn_,
                     "SELECT fraiseql_cache.setup_table_invalidation(" + conn_->quote(table) + ")");
}

std::string IntegrationTest::track(const std::string &table, const char *domain,
                                   const char *tenant_column) {
    auto arg = [&](const char *s) {
        return s ? conn_->quote(std::string(s)) : std::string("NULL");
    };
    return query_str(*conn_, "SELECT fraiseql_cache.setup_table_invalidation(" +
                                 conn_->quote(table) + ", " + arg(domain) + ", " +
                                 arg(tenant_column) + ")");
}

void IntegrationTest::reconnect() {
    conn_.reset();
    conn_ = connect(seconds(60));
}

std::string IntegrationTest::wait_until_serving(seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    if (probe_table_.empty())
        probe_table_ = table_name("probe");
    const std::string domain = domain_of(probe_table_);
    bool probe_ready = false;
    std::string last = "no attempt";
    while (Clock::now() < deadline) {
        try {
            if (!conn_ || !conn_->is_open())
                conn_ = connect(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
            if (!probe_ready) {
                if (query_ll(*conn_,
                             "SELECT count(*) FROM fraiseql_cache.tracked_tables "
                             "WHERE table_name = " +
                                 conn_->quote(probe_table_)) == 0 ||
                    query_ll(*conn_, "SELECT count(*) FROM pg_class WHERE relname = " +
                                         conn_->quote(probe_table_)) == 0) {
                    create_table(probe_table_, "(id serial PRIMARY KEY, tenant_id uuid)");
                    track(probe_table_);
                }
                drop_later(probe_table_);
                probe_ready = true;
            }
            // A use of the database: after a start a database is served
            // from its first use (this claims its slot, the launcher starts
            // its worker).
            (void)query_ll(*conn_, "SELECT count(*) FROM fraiseql_cache.stats()");
            int workers = worker_count(*conn_);
            if (workers != 1) {
                last = std::to_string(workers) + " workers in pg_stat_activity";
                std::this_thread::sleep_for(milliseconds(50));
                continue;
            }
            // Serving = a committed write is visible at once (read-your-writes).
            long long before = version(*conn_, kAllTenants, domain);
            exec(*conn_,
                 "INSERT INTO " + probe_table_ + " (tenant_id) VALUES ('" + kAllTenants + "')");
            long long after = version(*conn_, kAllTenants, domain);
            if (after > before)
                return "";
            last = "probe write not reflected at once (version " + std::to_string(before) + " -> " +
                   std::to_string(after) + ")";
            std::this_thread::sleep_for(milliseconds(50));
        } catch (const std::exception &e) {
            last = e.what();
            if (conn_ && !conn_->is_open())
                conn_.reset();
            std::this_thread::sleep_for(milliseconds(100));
        }
    }
    return "worker not serving after " + std::to_string(timeout.count()) + " s: " + last;
}

}  // namespace fcit
