// Fault injection (suite Fault):
//   1   kill -9 of a regular backend (postmaster crash-restart) under a writer
//   1b  reads after a crash while the restarted worker has not loaded yet
//   2   a full ring while the worker is SIGSTOPped: bounded commits, a reset
//   2b  one transaction touching more pairs than the ring has slots
//   3   more pairs than fraiseql_cache.max_entries (spilled pairs)
//   4   a clean (fast) shutdown while writers commit
//   5   the served database renamed / renamed back / dropped / created again
//   6   the smallest ring (16) under traffic from 4 sessions: exact counts
//
// Cluster settings changed here (ring_size, max_entries) are restored in a
// guard (ALTER SYSTEM RESET + restart) also when a test fails; a stopped
// worker is always continued, a prepared transaction always resolved. Test 5
// runs on a second cluster of its own (scripts/cluster.sh, a free port in
// 55450-55479, database fc_fault_db), destroyed at the end.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace fcit {
namespace {

// ---- helpers -----------------------------------------------------------------

std::string read_file_from(const std::string &path, std::streamoff offset) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return "";
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    if (offset > size)
        offset = 0;  // rotated or recreated
    in.seekg(offset);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::streamoff file_size(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? std::streamoff(st.st_size) : 0;
}

std::size_t count_occurrences(const std::string &text, const std::string &needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + needle.size()))
        n++;
    return n;
}

// Lines of `text` containing `needle`, at most `max` of them.
std::string lines_with(const std::string &text, const std::string &needle, int max = 6) {
    std::istringstream in(text);
    std::string line, out;
    int n = 0;
    while (std::getline(in, line))
        if (line.find(needle) != std::string::npos && n++ < max)
            out += "    " + line + "\n";
    return out;
}

// Runs a shell command with a time limit; returns its exit status and output.
int run_command(const std::string &cmd, std::string *output) {
    char out_path[] = "/tmp/fcit_fault_XXXXXX";
    int fd = ::mkstemp(out_path);
    if (fd >= 0)
        ::close(fd);
    int rc = std::system((cmd + " >" + shell_quote(out_path) + " 2>&1").c_str());
    if (output)
        *output = read_file_from(out_path, 0);
    ::unlink(out_path);
    return rc;
}

// Process state letter from /proc/<pid>/stat ('T' = stopped), '?' if gone.
char process_state(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s;
    if (!std::getline(in, s))
        return '?';
    auto close = s.rfind(')');
    if (close == std::string::npos || close + 2 >= s.size())
        return '?';
    return s[close + 2];
}

struct Stats {
    long long overflows = 0, resets = 0, ring_full_waits = 0, wait_timeouts = 0,
              spilled_pairs = 0, floor = 0, ring_size = 0, max_entries = 0, shared_entries = 0,
              table_reads = 0;
};

Stats read_stats(pqxx::connection &c) {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec(
        "SELECT overflows, resets, ring_full_waits, wait_timeouts, spilled_pairs, floor, "
        "ring_size, max_entries, shared_entries, table_reads FROM fraiseql_cache.stats()");
    Stats s;
    s.overflows = r[0][0].as<long long>();
    s.resets = r[0][1].as<long long>();
    s.ring_full_waits = r[0][2].as<long long>();
    s.wait_timeouts = r[0][3].as<long long>();
    s.spilled_pairs = r[0][4].as<long long>();
    s.floor = r[0][5].as<long long>();
    s.ring_size = r[0][6].as<long long>();
    s.max_entries = r[0][7].as<long long>();
    s.shared_entries = r[0][8].as<long long>();
    s.table_reads = r[0][9].as<long long>();
    return s;
}

// current_version() of every pair in domain_version, in one query.
std::map<PairKey, long long> all_current_versions(pqxx::connection &c) {
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

// The server log of the cluster `c` is connected to (scripts/cluster.sh
// layout: <dir>/data is the data directory, <dir>/server.log the log).
std::string server_log_path(pqxx::connection &c) {
    std::string data = query_str(c, "SHOW data_directory");
    auto slash = data.rfind('/');
    return (slash == std::string::npos ? std::string(".") : data.substr(0, slash)) +
           "/server.log";
}

// Connects with an explicit connection string, retrying until `timeout`.
std::unique_ptr<pqxx::connection> connect_to(const std::string &info,
                                             milliseconds timeout = seconds(30)) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        try {
            auto c = std::make_unique<pqxx::connection>(info);
            if (c->is_open())
                return c;
        } catch (const std::exception &) {
            if (Clock::now() >= deadline)
                throw;
        }
        if (Clock::now() >= deadline)
            throw pqxx::broken_connection("could not connect before the deadline: " + info);
        std::this_thread::sleep_for(milliseconds(50));
    }
}

void close_connection(std::unique_ptr<pqxx::connection> &c) {
    if (!c)
        return;
#if PQXX_VERSION_MAJOR >= 7
    try {
        c->close();
    } catch (...) {
    }
#else
    try {
        c->disconnect();
    } catch (...) {
    }
#endif
    c.reset();
}

// Restores a cluster setting changed with ALTER SYSTEM: RESET + restart in
// the destructor, also when the test failed half-way. `conn` (the fixture's
// connection) is re-established after each restart.
class SystemSettingGuard {
  public:
    SystemSettingGuard(std::unique_ptr<pqxx::connection> &conn, std::string name)
        : conn_(conn), name_(std::move(name)) {}
    SystemSettingGuard(const SystemSettingGuard &) = delete;
    SystemSettingGuard &operator=(const SystemSettingGuard &) = delete;

    // ALTER SYSTEM SET <name> = <value>; restart fast. "" or what went wrong.
    std::string set(const std::string &value) {
        try {
            armed_ = true;
            exec(*conn_, "ALTER SYSTEM SET " + name_ + " = " + value);
            std::string why = cluster_restart(*conn_, "fast");
            conn_.reset();
            conn_ = connect(seconds(60));
            if (!why.empty())
                return why;
            std::string now = query_str(*conn_, "SHOW " + name_);
            if (now != value)
                return name_ + " is " + now + " after the restart, not " + value;
            return "";
        } catch (const std::exception &e) {
            return std::string("setting ") + name_ + ": " + e.what();
        }
    }

    ~SystemSettingGuard() {
        if (!armed_)
            return;
        std::string why;
        try {
            conn_.reset();
            conn_ = connect(seconds(60));
            exec(*conn_, "ALTER SYSTEM RESET " + name_);
            why = cluster_restart(*conn_, "fast");
            conn_.reset();
            conn_ = connect(seconds(60));
        } catch (const std::exception &e) {
            why = e.what();
        }
        if (!why.empty()) {
            std::fprintf(stderr, "fault_test: could not restore %s: %s\n", name_.c_str(),
                         why.c_str());
            ADD_FAILURE() << "could not restore " << name_ << " (ALTER SYSTEM RESET + restart): "
                          << why;
        }
    }

  private:
    std::unique_ptr<pqxx::connection> &conn_;
    std::string name_;
    bool armed_ = false;
};

// SIGSTOP of a process, SIGCONT in the destructor whatever happens.
class StoppedProcess {
  public:
    explicit StoppedProcess(int pid) : pid_(pid) {}
    StoppedProcess(const StoppedProcess &) = delete;
    StoppedProcess &operator=(const StoppedProcess &) = delete;
    bool stop() {
        // Insurance should this program die before the destructor runs (the
        // watchdog, a crash): a stopped worker would hang the server's
        // shutdown. A SIGCONT to a running process changes nothing.
        std::system(("(sleep 30; kill -CONT " + std::to_string(pid_) +
                     ") >/dev/null 2>&1 &").c_str());
        if (::kill(pid_t(pid_), SIGSTOP) != 0)
            return false;
        stopped_ = true;
        return wait_until([&] { return process_state(pid_) == 'T'; }, seconds(5),
                          milliseconds(2));
    }
    void resume() {
        if (stopped_) {
            ::kill(pid_t(pid_), SIGCONT);
            stopped_ = false;
        }
    }
    ~StoppedProcess() { resume(); }

  private:
    int pid_;
    bool stopped_ = false;
};

// A prepared transaction holding a lock on a table across a crash-restart
// (prepared transactions survive it). Resolved with COMMIT PREPARED in the
// destructor whatever happens, so the lock never outlives the test.
class PreparedLock {
  public:
    PreparedLock() : gid_("fc_fault_hold_" + random_hex(8)) {}
    PreparedLock(const PreparedLock &) = delete;
    PreparedLock &operator=(const PreparedLock &) = delete;
    void take(pqxx::connection &c, const std::string &lock_sql) {
        armed_ = true;
        // Insurance should this program die before the destructor runs: the
        // prepared transaction (and its lock) would survive it. Harmless
        // once it is resolved (the gid no longer exists).
        std::system(("(sleep 60; psql -Xq -c " + shell_quote("COMMIT PREPARED '" + gid_ + "'") +
                     ") >/dev/null 2>&1 &").c_str());
        exec(c, "BEGIN");
        exec(c, lock_sql);
        exec(c, "PREPARE TRANSACTION " + c.quote(gid_));
    }
    void release() {
        if (!armed_)
            return;
        armed_ = false;
        try {
            auto c = connect(seconds(60));
            if (query_ll(*c, "SELECT count(*) FROM pg_prepared_xacts WHERE gid = " +
                                 c->quote(gid_)) > 0)
                exec(*c, "COMMIT PREPARED " + c->quote(gid_));
        } catch (const std::exception &e) {
            std::fprintf(stderr, "fault_test: could not resolve prepared transaction %s: %s\n",
                         gid_.c_str(), e.what());
            ADD_FAILURE() << "could not resolve prepared transaction " << gid_ << ": "
                          << e.what();
        }
    }
    ~PreparedLock() { release(); }

  private:
    std::string gid_;
    bool armed_ = false;
};

// Ends once `sentinel` has been closed by the server (the postmaster's
// reaction to a crash). True if it was within `timeout`.
bool wait_for_session_end(pqxx::connection &sentinel, milliseconds timeout) {
    return wait_until(
        [&] {
            try {
                exec(sentinel, "SELECT 1");
                return false;
            } catch (const std::exception &) {
                return true;
            }
        },
        timeout, milliseconds(1));
}

class Fault : public IntegrationTest {
  protected:
    std::string make_tenant_table(const std::string &stem = "") {
        std::string t = table_name(stem);
        create_table(t,
                     "(id int PRIMARY KEY, tenant_id uuid NOT NULL, val int NOT NULL DEFAULT 0)");
        track(t);
        return t;
    }

    void insert_row(const std::string &t, int id, const std::string &tenant) {
        exec(*conn_, "INSERT INTO " + t + " VALUES (" + std::to_string(id) + ", '" + tenant +
                         "', 0)");
    }

    long long row_val(pqxx::connection &c, const std::string &t, int id) {
        return query_ll(c, "SELECT val FROM " + t + " WHERE id = " + std::to_string(id));
    }
};

// =============================================================================
// 1. kill -9 of a regular backend: the postmaster ends every session and
// restarts (crash recovery). Nothing visible before may be seen again (I3),
// nothing committed is lost (I2).
TEST_F(Fault, BackendKillCrashRestartLosesNothingAndReusesNoVersion) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    constexpr int kTenants = 2;
    const std::string tenants[kTenants] = {new_uuid(), new_uuid()};
    for (int j = 0; j < kTenants; j++)
        insert_row(t, j + 1, tenants[j]);
    // A pair nobody writes during the test, and a pair never seen at all.
    const std::string idle = new_uuid();
    insert_row(t, 100, idle);
    const std::string never_tenant = new_uuid();
    const std::string never_domain = "it_never_" + random_hex(12);
    const long long floor_before = version(*conn_, never_tenant, never_domain);

    std::atomic<bool> stop{false};
    std::atomic<int> generation{0};  // bumped by the main thread at the kill
    std::atomic<long long> commits{0}, commits_after{0};
    std::atomic<int> connection_losses{0}, other_failures{0}, not_read_back{0};
    std::mutex mu;
    std::string first_failure, first_not_read_back;
    // Per tenant: the highest version the writer saw before the crash; the
    // first version it read after it (before its first commit there), the
    // row's val at that point, and the lowest version read after the crash.
    long long max_seen_before[kTenants] = {0, 0};
    long long first_after[kTenants] = {-1, -1};
    long long val_at_first_after[kTenants] = {-1, -1};
    long long min_seen_after[kTenants] = {LLONG_MAX, LLONG_MAX};
    const auto deadline = Clock::now() + seconds(60);

    std::thread writer([&] {
        std::unique_ptr<pqxx::connection> c;
        int conn_generation = 0;
        for (long long i = 0; !stop.load() && Clock::now() < deadline; i++) {
            const int j = int(i % kTenants);
            try {
                if (!c || !c->is_open()) {
                    c.reset();
                    conn_generation = generation.load();
                    // Back as early as the server lets us in: reads racing
                    // the restarted worker's start-up are the interesting ones.
                    c = connect(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()),
                                milliseconds(2));
                }
                const bool after = conn_generation > 0;
                long long v0 = version(*c, tenants[j], d);
                long long val = 0;
                {
                    pqxx::work tx(*c);
                    pqxx::result r = tx.exec("UPDATE " + t +
                                             " SET val = val + 1 WHERE id = " +
                                             std::to_string(j + 1) + " RETURNING val");
                    val = r[0][0].as<long long>();
                    tx.commit();
                }
                long long v1 = version(*c, tenants[j], d);
                std::lock_guard<std::mutex> g(mu);
                commits++;
                if (!after) {
                    max_seen_before[j] = std::max({max_seen_before[j], v0, v1});
                } else {
                    commits_after++;
                    if (first_after[j] < 0) {
                        first_after[j] = v0;
                        val_at_first_after[j] = val - 1;
                    }
                    min_seen_after[j] = std::min({min_seen_after[j], v0, v1});
                }
                if (v1 <= v0 && not_read_back++ == 0)
                    first_not_read_back = "commit " + std::to_string(i) + ": " +
                                          std::to_string(v0) + " -> " + std::to_string(v1);
            } catch (const std::exception &e) {
                if (is_connection_loss(e) || !c || !c->is_open()) {
                    connection_losses++;
                    c.reset();
                } else {
                    std::lock_guard<std::mutex> g(mu);
                    if (other_failures++ == 0)
                        first_failure = std::string(sqlstate_of(e)) + " " + e.what();
                }
            }
        }
    });
    struct Joiner {
        std::thread &th;
        std::atomic<bool> &stop;
        ~Joiner() {
            stop = true;
            if (th.joinable())
                th.join();
        }
    } joiner{writer, stop};

    ASSERT_TRUE(wait_until([&] { return commits.load() >= 50; }, seconds(30)))
        << "the writer did not get going";
    // The victim: an idle regular backend.
    auto victim = connect();
    const int victim_pid = int(query_ll(*victim, "SELECT pg_backend_pid()"));
    // Ended by the postmaster when it reacts to the crash: a connection made
    // after the sentinel is gone is one to the restarted server.
    auto sentinel = connect();
    const auto before = all_current_versions(*conn_);
    ASSERT_TRUE(before.count(PairKey(idle, d)));
    const std::string log_path = server_log_path(*conn_);
    const std::streamoff log_offset = file_size(log_path);
    generation = 1;
    ASSERT_EQ(::kill(pid_t(victim_pid), SIGKILL), 0) << "kill -9 " << victim_pid;
    victim.reset();
    conn_.reset();
    ASSERT_TRUE(wait_for_session_end(*sentinel, seconds(20)))
        << "the postmaster did not end the other sessions after kill -9 of a backend";
    sentinel.reset();

    // Read everything again as early as possible: before the restarted worker
    // has loaded, answers come from domain_version, and must already be past
    // everything seen before the crash.
    std::map<PairKey, long long> early;
    {
        const auto until = Clock::now() + seconds(60);
        while (early.empty() && Clock::now() < until) {
            try {
                auto c = connect(seconds(60), milliseconds(2));
                early = all_current_versions(*c);
            } catch (const std::exception &) {
                std::this_thread::sleep_for(milliseconds(2));
            }
        }
    }
    ASSERT_EQ(wait_until_serving(seconds(60)), "");
    ASSERT_TRUE(wait_until([&] { return commits_after.load() >= 50; }, seconds(30)))
        << "the writer did not resume after the crash-restart (" << commits_after.load()
        << " commits since)";
    stop = true;
    writer.join();

    const std::string log = read_file_from(log_path, log_offset);
    EXPECT_NE(log.find("terminated by signal 9"), std::string::npos)
        << "no crash-restart in the server log";
    EXPECT_EQ(other_failures.load(), 0) << "writer failures other than the crash: "
                                        << first_failure;
    EXPECT_GE(connection_losses.load(), 1) << "the kill did not crash-restart the server?";

    // I3, first thing after the restart (while the worker may still load).
    {
        int not_above = 0;
        std::ostringstream diffs;
        for (const auto &[key, v] : before) {
            auto it = early.find(key);
            if (it != early.end() && it->second <= v && not_above++ < 5)
                diffs << " " << describe(key) << ": " << v << " before, " << it->second
                      << " right after";
        }
        EXPECT_EQ(not_above, 0)
            << "I3: right after the crash-restart (before the worker had necessarily loaded), "
            << not_above << " of " << before.size()
            << " pairs read a version not above the one visible before the crash:"
            << diffs.str();
    }
    // I3 once serving: every pair is past everything visible before.
    const auto after = all_current_versions(*conn_);
    {
        int not_raised = 0;
        std::ostringstream diffs;
        for (const auto &[key, v] : before) {
            auto it = after.find(key);
            long long a = it == after.end() ? -1 : it->second;
            if (a <= v && not_raised++ < 5)
                diffs << " " << describe(key) << ": " << v << " -> " << a;
        }
        EXPECT_EQ(not_raised, 0) << "versions not raised by the crash-restart:" << diffs.str();
    }
    EXPECT_GT(version(*conn_, never_tenant, never_domain), floor_before)
        << "floor for never-seen pairs not raised";
    for (int j = 0; j < kTenants; j++) {
        SCOPED_TRACE("writer tenant " + std::to_string(j));
        // Nothing the writer saw before the crash comes back afterwards.
        EXPECT_GT(min_seen_after[j], max_seen_before[j])
            << "I3: a version read after the crash-restart (lowest " << min_seen_after[j]
            << ") is not above one read before it (highest " << max_seen_before[j] << ")";
        // Commits before the crash (some perhaps only in the lost ring) are
        // covered by the raise; commits after it are each reflected.
        ASSERT_GE(first_after[j], 0) << "no commit after the restart";
        const long long final_v = version(*conn_, tenants[j], d);
        const long long committed_after = row_val(*conn_, t, j + 1) - val_at_first_after[j];
        EXPECT_GT(final_v, max_seen_before[j]);
        EXPECT_GE(final_v, first_after[j] + committed_after)
            << committed_after << " transactions committed after the restart, from version "
            << first_after[j];
        RecordProperty("tenant" + std::to_string(j) + "_committed_after", int(committed_after));
    }
    EXPECT_EQ(not_read_back.load(), 0)
        << "I6: commits whose own session did not see the bump right after COMMIT (first: "
        << first_not_read_back << ")";
    RecordProperty("commits", int(commits.load()));
}


// =============================================================================
// 1b. The same window made wide and deterministic: the restarted worker is
// held back from loading (a prepared transaction keeps an EXCLUSIVE lock on
// domain_version across the crash), while a write that committed before the
// crash had its bump only in the ring. Until the worker has raised the
// persisted versions, current_version() must not answer a value that was
// visible before the crash: the data it would tag is newer (I2, I3).
TEST_F(Fault, ReadsAfterACrashBeforeTheWorkerLoadsAreAboveEverythingSeen) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    const std::string tenant = new_uuid();
    insert_row(t, 1, tenant);
    const std::string never_tenant = new_uuid();
    const std::string never_domain = "it_never_" + random_hex(12);
    const long long floor_before = version(*conn_, never_tenant, never_domain);
    const long long v_before = version(*conn_, tenant, d);
    const long long all_before = version(*conn_, kAllTenants, d);

    PreparedLock hold;
    {
        auto c = connect();
        hold.take(*c, "LOCK TABLE fraiseql_cache.domain_version IN EXCLUSIVE MODE");
    }
    // Committed; its bump waits in the ring behind the blocked worker.
    {
        auto w = connect();
        exec(*w, "SET fraiseql_cache.wait_timeout_ms = 100");
        exec(*w, "UPDATE " + t + " SET val = val + 1 WHERE id = 1");
    }
    ASSERT_EQ(row_val(*conn_, t, 1), 1);

    auto victim = connect();
    const int victim_pid = int(query_ll(*victim, "SELECT pg_backend_pid()"));
    auto sentinel = connect();
    ASSERT_EQ(::kill(pid_t(victim_pid), SIGKILL), 0);
    victim.reset();
    conn_.reset();
    ASSERT_TRUE(wait_for_session_end(*sentinel, seconds(20)))
        << "the postmaster did not end the other sessions after kill -9 of a backend";
    sentinel.reset();
    conn_ = connect(seconds(60));
    // The worker cannot have loaded: it waits for the lock.
    std::this_thread::sleep_for(milliseconds(300));
    pqxx::nontransaction probe(*conn_);
    bool serving = probe.exec("SELECT serving FROM fraiseql_cache.stats()")[0][0].as<bool>();
    probe.commit();
    ASSERT_FALSE(serving) << "precondition: the worker should still be waiting to load";

    // In that window current_version() either answers a value above
    // everything seen before the crash, or refuses with SQLSTATE 55000 (the
    // client treats it as a cache miss); it never answers a pre-crash value.
    auto read_in_window = [&](const std::string &tenant_id, const std::string &domain,
                              long long before, const char *what) {
        try {
            long long v = version(*conn_, tenant_id, domain);
            EXPECT_GT(v, before) << "I2/I3: " << what << ": after the crash, before the worker "
                                 << "has loaded, current_version() answered " << v
                                 << ", not above the " << before << " visible before the crash";
        } catch (const std::exception &e) {
            EXPECT_EQ(sqlstate_of(e), "55000") << what << ": " << e.what();
            conn_ = connect(seconds(60));
        }
    };
    read_in_window(tenant, d, v_before, "a pair written before the crash");
    read_in_window(kAllTenants, d, all_before, "the all-tenants pair");
    read_in_window(never_tenant, never_domain, floor_before, "a never-seen pair");

    hold.release();
    ASSERT_EQ(wait_until_serving(seconds(60)), "");
    EXPECT_GT(version(*conn_, tenant, d), v_before) << "once the worker has loaded";
    EXPECT_GT(version(*conn_, never_tenant, never_domain), floor_before);
    RecordProperty("version_before", std::to_string(v_before));
}

// =============================================================================
// 2. A full ring while the worker is stopped: commits neither fail nor wait
// more than the bounded waits, and once the worker runs again every pair of
// the database (and the floor) is bumped: a reset.
TEST_F(Fault, FullRingWhileWorkerStoppedResetsEveryPair) {
    SystemSettingGuard ring_guard(conn_, "fraiseql_cache.ring_size");
    ASSERT_EQ(ring_guard.set("16"), "");
    ASSERT_EQ(wait_until_serving(), "");
    ASSERT_EQ(read_stats(*conn_).ring_size, 16);

    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    const std::string untouched = new_uuid(), repeated = new_uuid();
    insert_row(t, 1, untouched);
    insert_row(t, 2, repeated);
    const std::string never_tenant = new_uuid();
    const std::string never_domain = "it_never_" + random_hex(12);

    auto writer = connect();
    exec(*writer, "SET fraiseql_cache.wait_timeout_ms = 200");
    auto reader = connect();
    // Settled: the last write is published, the worker waits on its latch.
    ASSERT_EQ(wait_until_serving(), "");
    std::this_thread::sleep_for(milliseconds(100));
    const long long floor_before = version(*conn_, never_tenant, never_domain);
    const Stats stats_before = read_stats(*conn_);
    const auto before = all_current_versions(*conn_);
    ASSERT_TRUE(before.count(PairKey(untouched, d)));
    const long long repeated_before = version(*conn_, repeated, d);

    const int pid = worker_pid(*conn_);
    ASSERT_GT(pid, 0);
    StoppedProcess stopped(pid);
    ASSERT_TRUE(stopped.stop()) << "SIGSTOP " << pid;

    // 5 ring slots per transaction (4 new tenants + `repeated`): the 16-slot
    // ring is full after the third.
    constexpr int kTransactions = 10, kPerTransaction = 4;
    std::vector<std::string> written;
    long long slowest_ms = 0;
    int failures = 0;
    std::string first_failure;
    for (int i = 0; i < kTransactions; i++) {
        std::string values;
        for (int k = 0; k < kPerTransaction; k++) {
            std::string tenant = new_uuid();
            written.push_back(tenant);
            values += std::string(k ? ", " : "") + "(" +
                      std::to_string(1000 + i * kPerTransaction + k) + ", '" + tenant + "', 0)";
        }
        auto start = Clock::now();
        try {
            pqxx::work tx(*writer);
            tx.exec("INSERT INTO " + t + " VALUES " + values);
            tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = 2");
            tx.commit();
        } catch (const std::exception &e) {
            if (failures++ == 0)
                first_failure = e.what();
        }
        long long ms =
            std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
        slowest_ms = std::max(slowest_ms, ms);
        EXPECT_LT(ms, 2000) << "commit " << i << " took " << ms
                            << " ms with the worker stopped (bounded waits: 50 + 200 ms)";
    }
    EXPECT_EQ(failures, 0) << "commits failed with the worker stopped: " << first_failure;
    // Readers are not held up by a stopped worker either.
    {
        auto start = Clock::now();
        (void)version(*reader, untouched, d);
        (void)versions(*reader, written.front(), {d, never_domain});
        EXPECT_LT(Clock::now() - start, seconds(2)) << "reads with the worker stopped";
    }
    const Stats stats_stopped = read_stats(*reader);
    EXPECT_EQ(process_state(pid), 'T') << "the worker is no longer stopped";
    EXPECT_GT(stats_stopped.ring_full_waits, stats_before.ring_full_waits);
    EXPECT_GT(stats_stopped.overflows, stats_before.overflows)
        << "no overflow counted after " << kTransactions * (kPerTransaction + 1)
        << " slots into a 16-slot ring";

    stopped.resume();
    // The reset: every pair of the database moves, untouched ones too.
    EXPECT_TRUE(wait_until([&] { return version(*reader, untouched, d) > before.at({untouched, d}); },
                           seconds(10)))
        << "a pair not written while the worker was stopped did not move (no reset)";
    EXPECT_TRUE(wait_until(
        [&] {
            for (const std::string &w : written)
                if (version(*reader, w, d) <= floor_before)
                    return false;
            return true;
        },
        seconds(10)))
        << "writes made while the worker was stopped not reflected";
    const Stats stats_after = read_stats(*conn_);
    EXPECT_GT(stats_after.overflows, stats_before.overflows);
    EXPECT_GT(stats_after.resets, stats_before.resets) << "no reset counted";
    EXPECT_GT(version(*conn_, never_tenant, never_domain), floor_before)
        << "floor for never-seen pairs not raised by the reset";
    EXPECT_GT(stats_after.floor, stats_before.floor);

    const auto after = all_current_versions(*conn_);
    int not_bumped = 0;
    std::ostringstream diffs;
    for (const auto &[key, v] : before) {
        auto it = after.find(key);
        long long a = it == after.end() ? -1 : it->second;
        if (a <= v && not_bumped++ < 5)
            diffs << " " << describe(key) << ": " << v << " -> " << a;
    }
    EXPECT_EQ(not_bumped, 0) << not_bumped << " of " << before.size()
                             << " pairs of the database not bumped by the reset:" << diffs.str();
    // Tenants first written by a transaction that did not fit get no
    // domain_version row from the reset: current_version() answers them with
    // the raised floor. (A client reading domain_version directly sees no row
    // before and after such a write: reported, not asserted.)
    int without_row = 0;
    for (const std::string &w : written) {
        EXPECT_GE(version(*conn_, w, d), floor_before + 1) << "tenant written while stopped: "
                                                          << w;
        if (!after.count({w, d}))
            without_row++;
    }
    RecordProperty("written_without_domain_version_row", without_row);
    if (without_row > 0)
        std::fprintf(stderr,
                     "[fault] note: %d of %zu tenants written while the ring was full have no "
                     "domain_version row after the reset (current_version() gives the floor)\n",
                     without_row, written.size());
    // Written in every transaction: at least changed. (A reset bumps a pair
    // once; it does not count the transactions that did not fit.)
    const long long repeated_after = version(*conn_, repeated, d);
    EXPECT_GT(repeated_after, repeated_before);
    EXPECT_GT(version(*conn_, kAllTenants, d), before.at({kAllTenants, d}));

    // Serving normally again: one commit, one bump, visible at once.
    long long u0 = version(*conn_, untouched, d);
    exec(*conn_, "UPDATE " + t + " SET val = val + 1 WHERE id = 1");
    EXPECT_EQ(version(*conn_, untouched, d), u0 + 1);

    RecordProperty("slowest_commit_ms", int(slowest_ms));
    RecordProperty("overflows", int(stats_after.overflows - stats_before.overflows));
    RecordProperty("resets", int(stats_after.resets - stats_before.resets));
    RecordProperty("repeated_committed", kTransactions);
    RecordProperty("repeated_delta", int(repeated_after - repeated_before));
    writer.reset();
    reader.reset();
}

// =============================================================================
// 3. More pairs than fraiseql_cache.max_entries: the ones that do not fit are
// answered from domain_version, exactly, with a WARNING and a counter.
TEST_F(Fault, PairsBeyondMaxEntriesStayExact) {
    SystemSettingGuard entries_guard(conn_, "fraiseql_cache.max_entries");
    ASSERT_EQ(entries_guard.set("1024"), "");
    ASSERT_EQ(wait_until_serving(), "");
    ASSERT_EQ(read_stats(*conn_).max_entries, 1024);

    const std::string log_path = server_log_path(*conn_);
    const std::streamoff log_offset = file_size(log_path);
    const Stats stats_before = read_stats(*conn_);

    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    constexpr int kTenants = 1500, kPerTransaction = 500;
    for (int from = 1; from <= kTenants; from += kPerTransaction)
        exec(*conn_, "INSERT INTO " + t + " (id, tenant_id) SELECT g, gen_random_uuid() "
                     "FROM generate_series(" + std::to_string(from) + ", " +
                     std::to_string(from + kPerTransaction - 1) + ") g");

    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t + " x JOIN "
                               "fraiseql_cache.domain_version dv ON dv.tenant_id = x.tenant_id "
                               "AND dv.domain = " + conn_->quote(d)),
              kTenants)
        << "pairs persisted";
    const Stats stats_full = read_stats(*conn_);
    EXPECT_GT(stats_full.spilled_pairs, stats_before.spilled_pairs)
        << "no pair counted as spilled with " << kTenants << " tenants and max_entries 1024";
    EXPECT_LE(stats_full.shared_entries, 1024);

    // Every pair of the database, spilled or not, answers exactly what is
    // persisted; the new ones one commit above the floor they started from.
    auto mismatches = [&](const std::string &where) {
        return query_ll(*conn_,
                        "SELECT count(*) FROM fraiseql_cache.domain_version dv "
                        "WHERE fraiseql_cache.current_version(dv.tenant_id, dv.domain) "
                        "<> dv.version " + where);
    };
    EXPECT_EQ(mismatches(""), 0) << "current_version() differs from domain_version";
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t +
                                   " x WHERE (fraiseql_cache.current_versions(x.tenant_id, "
                                   "ARRAY[" + conn_->quote(d) + "]))[1] <> "
                                   "fraiseql_cache.current_version(x.tenant_id, " +
                                   conn_->quote(d) + ")"),
              0)
        << "current_versions() differs from current_version()";
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t +
                                   " x WHERE fraiseql_cache.current_version(x.tenant_id, " +
                                   conn_->quote(d) + ") <> " + std::to_string(stats_before.floor) +
                                   " + 1"),
              0)
        << "a new pair is not at floor + 1 after one commit";

    // Which pairs did not fit: reading one costs a domain_version read
    // (stats().table_reads; nothing else runs against this cluster).
    std::vector<std::pair<int, std::string>> spilled, in_memory;
    {
        pqxx::nontransaction tx(*conn_);
        pqxx::result r = tx.exec("SELECT id, tenant_id::text FROM " + t + " ORDER BY id DESC");
        tx.commit();
        for (const auto &row : r) {
            const std::string tenant = row[1].as<std::string>();
            long long reads0 = read_stats(*conn_).table_reads;
            (void)version(*conn_, tenant, d);
            bool from_table = read_stats(*conn_).table_reads > reads0;
            (from_table ? spilled : in_memory).emplace_back(row[0].as<int>(), tenant);
            if (spilled.size() >= 40 && in_memory.size() >= 5)
                break;
        }
    }
    ASSERT_GE(spilled.size(), 20u) << "could not find pairs answered from domain_version";
    RecordProperty("spilled_found", int(spilled.size()));

    // Each commit touching a spilled pair is visible at once, exactly +1...
    int not_read_back = 0;
    std::ostringstream first;
    for (const auto &[id, tenant] : spilled) {
        long long v0 = version(*conn_, tenant, d);
        exec(*conn_, "UPDATE " + t + " SET val = val + 1 WHERE id = " + std::to_string(id));
        long long v1 = version(*conn_, tenant, d);
        if (v1 != v0 + 1 && not_read_back++ < 3)
            first << " " << tenant << ": " << v0 << " -> " << v1;
    }
    EXPECT_EQ(not_read_back, 0) << "a bump of a spilled pair not exactly +1 right after COMMIT:"
                                << first.str();
    // ...and the version counts committed transactions also when several of
    // them reach the worker in one batch: the worker is stopped while 10
    // transactions touching 20 spilled pairs (and 5 in memory) commit, so
    // its next batch coalesces them.
    {
        std::vector<std::pair<int, std::string>> chosen(spilled.begin(), spilled.begin() + 20);
        chosen.insert(chosen.end(), in_memory.begin(), in_memory.end());
        std::string ids;
        std::vector<long long> v0;
        for (std::size_t i = 0; i < chosen.size(); i++) {
            ids += (i ? "," : "") + std::to_string(chosen[i].first);
            v0.push_back(version(*conn_, chosen[i].second, d));
        }
        auto burst = connect();
        exec(*burst, "SET fraiseql_cache.wait_for_bump = off");
        constexpr int kBurst = 10;
        {
            const int pid = worker_pid(*conn_);
            ASSERT_GT(pid, 0);
            StoppedProcess stopped(pid);
            ASSERT_TRUE(stopped.stop());
            for (int k = 0; k < kBurst; k++)
                exec(*burst, "UPDATE " + t + " SET val = val + 1 WHERE id IN (" + ids + ")");
        }  // SIGCONT
        exec(*conn_, "UPDATE " + t + " SET val = val + 1 WHERE id IN (" + ids + ")");
        int off_spilled = 0, off_memory = 0;
        std::ostringstream diffs;
        for (std::size_t i = 0; i < chosen.size(); i++) {
            long long v1 = version(*conn_, chosen[i].second, d);
            if (v1 != v0[i] + kBurst + 1) {
                if (off_spilled + off_memory < 3)
                    diffs << " " << (i < 20 ? "spilled " : "in memory ") << chosen[i].second
                          << ": " << v0[i] << " -> " << v1;
                (i < 20 ? off_spilled : off_memory)++;
            }
        }
        EXPECT_EQ(off_spilled + off_memory, 0)
            << off_spilled << " of 20 spilled pairs and " << off_memory << " of "
            << chosen.size() - 20 << " pairs in memory did not count " << kBurst + 1
            << " committed transactions (" << kBurst << " of them coalesced in one batch):"
            << diffs.str();
    }
    EXPECT_EQ(mismatches(""), 0) << "current_version() differs from domain_version at the end";

    const std::string log = read_file_from(log_path, log_offset);
    EXPECT_NE(log.find("did not fit in shared memory"), std::string::npos)
        << "no WARNING in " << log_path;
    RecordProperty("spilled_pairs", int(stats_full.spilled_pairs - stats_before.spilled_pairs));
    RecordProperty("warnings_logged", int(count_occurrences(log, "did not fit in shared memory")));
}

// =============================================================================
// 4. A clean (fast) shutdown while writers commit: the worker drains what
// committed, records the clean stop, and nothing is lost or bumped twice.
// Each transaction adds 1 to its row's `val`, so val counts exactly the
// transactions that committed, including those whose COMMIT reply the
// shutdown cut off.
TEST_F(Fault, CleanShutdownUnderWritersLosesNothing) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    constexpr int kWriters = 3, kShared = 10, kIdle = 11;
    std::string tenants[kWriters];
    for (int j = 0; j < kWriters; j++) {
        tenants[j] = new_uuid();
        insert_row(t, j + 1, tenants[j]);
    }
    const std::string shared_tenant = new_uuid(), idle = new_uuid();
    insert_row(t, kShared, shared_tenant);
    insert_row(t, kIdle, idle);
    ASSERT_EQ(wait_until_serving(), "");

    long long v_before[kWriters], val_before[kWriters];
    for (int j = 0; j < kWriters; j++) {
        v_before[j] = version(*conn_, tenants[j], d);
        val_before[j] = row_val(*conn_, t, j + 1);
    }
    const long long shared_v_before = version(*conn_, shared_tenant, d);
    const long long shared_val_before = row_val(*conn_, t, kShared);
    const long long idle_before = version(*conn_, idle, d);
    const long long all_before = version(*conn_, kAllTenants, d);

    std::atomic<bool> stop{false};
    std::atomic<int> generation{0};
    std::atomic<long long> commits{0};
    std::atomic<long long> commits_after_restart[kWriters] = {{0}, {0}, {0}};
    std::atomic<int> losses{0}, failures{0}, not_read_back{0};
    std::mutex mu;
    std::string first_failure, first_not_read_back;
    long long max_seen[kWriters] = {0, 0, 0}, shared_max_seen = 0;
    const auto deadline = Clock::now() + seconds(60);

    std::vector<std::thread> writers;
    for (int j = 0; j < kWriters; j++) {
        writers.emplace_back([&, j] {
            std::unique_ptr<pqxx::connection> c;
            int conn_generation = 0;
            for (long long i = 0; !stop.load() && Clock::now() < deadline; i++) {
                try {
                    if (!c || !c->is_open()) {
                        c.reset();
                        conn_generation = generation.load();
                        c = connect(
                            std::chrono::duration_cast<milliseconds>(deadline - Clock::now()),
                            milliseconds(5));
                    }
                    const bool with_shared = i % 3 == 0;
                    long long v0 = version(*c, tenants[j], d);
                    {
                        pqxx::work tx(*c);
                        tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = " +
                                std::to_string(j + 1));
                        if (with_shared)
                            tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = " +
                                    std::to_string(kShared));
                        tx.commit();
                    }
                    long long v1 = version(*c, tenants[j], d);
                    long long s1 = with_shared ? version(*c, shared_tenant, d) : 0;
                    commits++;
                    if (conn_generation > 0)
                        commits_after_restart[j]++;
                    std::lock_guard<std::mutex> g(mu);
                    max_seen[j] = std::max(max_seen[j], v1);
                    shared_max_seen = std::max(shared_max_seen, s1);
                    if (v1 <= v0 && not_read_back++ == 0)
                        first_not_read_back = "writer " + std::to_string(j) + ": " +
                                              std::to_string(v0) + " -> " + std::to_string(v1);
                } catch (const std::exception &e) {
                    if (is_connection_loss(e) || !c || !c->is_open()) {
                        losses++;
                        c.reset();
                    } else {
                        std::lock_guard<std::mutex> g(mu);
                        if (failures++ == 0)
                            first_failure = std::string(sqlstate_of(e)) + " " + e.what();
                        std::this_thread::sleep_for(milliseconds(5));
                    }
                }
            }
        });
    }
    struct Joiner {
        std::vector<std::thread> &ths;
        std::atomic<bool> &stop;
        ~Joiner() {
            stop = true;
            for (auto &th : ths)
                if (th.joinable())
                    th.join();
        }
    } joiner{writers, stop};

    ASSERT_TRUE(wait_until([&] { return commits.load() >= 150; }, seconds(30)))
        << "the writers did not get going";
    generation = 1;
    std::string why = cluster_restart(*conn_, "fast");
    ASSERT_EQ(why, "");
    conn_.reset();
    ASSERT_EQ(wait_until_serving(seconds(60)), "");
    ASSERT_TRUE(wait_until(
        [&] {
            for (int j = 0; j < kWriters; j++)
                if (commits_after_restart[j].load() < 20)
                    return false;
            return true;
        },
        seconds(30)))
        << "the writers did not resume after the restart";
    stop = true;
    for (auto &th : writers)
        th.join();

    EXPECT_EQ(failures.load(), 0) << "writer failures other than the shutdown: "
                                  << first_failure;
    long long total = 0;
    for (int j = 0; j < kWriters; j++) {
        SCOPED_TRACE("writer " + std::to_string(j));
        long long committed = row_val(*conn_, t, j + 1) - val_before[j];
        total += committed;
        long long v = version(*conn_, tenants[j], d);
        EXPECT_EQ(v, v_before[j] + committed)
            << committed << " transactions committed (counted by the row) from version "
            << v_before[j] << ": " << (v < v_before[j] + committed ? "bumps lost" : "extra bumps")
            << " across a clean shutdown";
        EXPECT_GE(v, max_seen[j]) << "version went back below one seen before";
        EXPECT_EQ(persisted_version(*conn_, tenants[j], d), v) << "domain_version row";
    }
    long long shared_committed = row_val(*conn_, t, kShared) - shared_val_before;
    EXPECT_EQ(version(*conn_, shared_tenant, d), shared_v_before + shared_committed)
        << "pair written by all writers";
    EXPECT_GE(version(*conn_, shared_tenant, d), shared_max_seen);
    EXPECT_EQ(version(*conn_, kAllTenants, d), all_before + total)
        << "all-tenants pair: one bump per committed transaction";
    EXPECT_EQ(version(*conn_, idle, d), idle_before) << "a pair nobody wrote moved";
    EXPECT_EQ(not_read_back.load(), 0)
        << "I6: commits whose own session did not see the bump right after COMMIT (first: "
        << first_not_read_back << ")";
    RecordProperty("commits", int(total));
    RecordProperty("connection_losses", losses.load());
}

// =============================================================================
// 5. The served database renamed, renamed back, dropped and created again:
// on a second cluster of its own, whose served database is fc_fault_db.
class SecondCluster {
  public:
    SecondCluster() = default;
    SecondCluster(const SecondCluster &) = delete;
    SecondCluster &operator=(const SecondCluster &) = delete;

    std::string start() {
        script_ = cluster_script();
        if (script_.empty())
            return "scripts/cluster.sh not found";
        port_ = free_port();
        if (port_ == 0)
            return "no free port in 55450-55479";
        dir_ = "/tmp/fc_fault_db_" + std::to_string(::getpid());
        std::string out;
        started_ = true;
        int rc = run_command(env() + " timeout 120 " + shell_quote(script_) + " start", &out);
        if (rc != 0)
            return "cluster.sh start failed (" + std::to_string(rc) + "): " + out +
                   read_file_from(log_path(), 0);
        return "";
    }

    ~SecondCluster() {
        if (started_) {
            std::string out;
            if (run_command(env() + " timeout 120 " + shell_quote(script_) + " destroy", &out) != 0)
                std::fprintf(stderr, "fault_test: destroying %s failed: %s\n", dir_.c_str(),
                             out.c_str());
        }
    }

    std::string conninfo(const std::string &db) const {
        return "host=" + dir_ + " port=" + std::to_string(port_) + " user=postgres dbname=" + db +
               " connect_timeout=10 application_name=fraiseql_fault "
               "options='-c statement_timeout=30000 -c client_min_messages=warning'";
    }
    std::string log_path() const { return dir_ + "/server.log"; }
    static constexpr const char *kDb = "fc_fault_db";

  private:
    std::string env() const {
        return "FRAISEQL_CLUSTER_DIR=" + shell_quote(dir_) + " FRAISEQL_PORT=" +
               std::to_string(port_) + " FRAISEQL_DB=" + kDb + " FRAISEQL_EXTRA_CONF=";
    }
    static int free_port() {
        for (int p = 55450; p < 55480; p++) {
            int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0)
                return 0;
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(uint16_t(p));
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            bool ok = ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
            ::close(fd);
            struct stat st;
            std::string sock = "/tmp/fc_fault_db_" + std::to_string(::getpid()) +
                               "/.s.PGSQL." + std::to_string(p);
            if (ok && ::stat(sock.c_str(), &st) != 0)
                return p;
        }
        return 0;
    }

    std::string script_, dir_;
    int port_ = 0;
    bool started_ = false;
};

// "ok", or "<sqlstate>|<message>|<hint>" of the error `sql` raised.
std::string try_sql(pqxx::connection &c, const std::string &sql) {
    exec(c,
         "CREATE OR REPLACE FUNCTION pg_temp.fc_try(sql text) RETURNS text LANGUAGE plpgsql AS $f$ "
         "DECLARE s text; m text; h text; "
         "BEGIN EXECUTE sql; RETURN 'ok'; "
         "EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, "
         "m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT; RETURN s || '|' || m || '|' || "
         "coalesce(h, ''); END $f$");
    return query_str(c, "SELECT pg_temp.fc_try(" + c.quote(sql) + ")");
}

std::string sqlstate_part(const std::string &r) { return r.substr(0, r.find('|')); }
std::string hint_part(const std::string &r) {
    auto last = r.rfind('|');
    return last == std::string::npos ? "" : r.substr(last + 1);
}

// Terminates the sessions (the worker included) of `db` and runs `ddl`
// (which needs the database to itself), retrying within `timeout`: the
// worker comes back after bgw_restart_time (1 s). "" or the last error.
std::string exclusive_ddl(pqxx::connection &admin, const std::string &db, const std::string &ddl,
                          milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string last = "no attempt";
    while (Clock::now() < deadline) {
        try {
            exec(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " +
                            admin.quote(db) + " AND pid <> pg_backend_pid()");
            exec(admin, ddl);
            return "";
        } catch (const std::exception &e) {
            last = std::string(sqlstate_of(e)) + " " + e.what();
            std::this_thread::sleep_for(milliseconds(10));
        }
    }
    return last;
}

struct Observation {
    int worker_samples = 0, worker_present = 0;
    std::set<int> worker_pids;
    bool server_up = true, other_db_ok = true;
    std::string failure;
};

// Watches the second cluster for `span`: workers, the server, another database.
Observation observe(pqxx::connection &admin, pqxx::connection &other, milliseconds span) {
    Observation o;
    const auto until = Clock::now() + span;
    while (Clock::now() < until) {
        try {
            int pid = worker_pid(admin);
            o.worker_samples++;
            if (pid != 0) {
                o.worker_present++;
                o.worker_pids.insert(pid);
            }
        } catch (const std::exception &e) {
            o.server_up = false;
            o.failure = e.what();
        }
        try {
            exec(other, "UPDATE fc_plain SET n = n + 1");
        } catch (const std::exception &e) {
            o.other_db_ok = false;
            o.failure = e.what();
        }
        std::this_thread::sleep_for(milliseconds(50));
    }
    return o;
}

std::string summary(const Observation &o) {
    std::ostringstream s;
    s << "worker present in " << o.worker_present << "/" << o.worker_samples << " samples, "
      << o.worker_pids.size() << " distinct worker pids";
    return s.str();
}

TEST_F(Fault, ServedDatabaseRenamedOrDroppedAndBack) {
    SecondCluster cluster;
    ASSERT_EQ(cluster.start(), "");
    const std::string db = SecondCluster::kDb;
    const std::string log_path = cluster.log_path();
    const auto started = Clock::now();

    auto admin = connect_to(cluster.conninfo("postgres"));
    const std::string postmaster_start =
        query_str(*admin, "SELECT pg_postmaster_start_time()::text");
    const std::string tenant = new_uuid();
    const std::string table = "tv_fc_db", domain = "fc_db";

    // The served database serves; a write is reflected as soon as COMMIT returns.
    auto write_and_check = [&](pqxx::connection &c, std::string *why) -> long long {
        long long v0 = version(c, tenant, domain);
        exec(c, "UPDATE " + table + " SET val = val + 1 WHERE id = 1");
        long long v1 = version(c, tenant, domain);
        if (v1 != v0 + 1)
            *why = "write not reflected at once: " + std::to_string(v0) + " -> " +
                   std::to_string(v1);
        return v1;
    };
    auto set_up_served = [&](pqxx::connection &c) {
        exec(c, "CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache");
        exec(c, "CREATE TABLE IF NOT EXISTS " + table +
                    " (id int PRIMARY KEY, tenant_id uuid NOT NULL, val int NOT NULL DEFAULT 0)");
        exec(c, "SELECT fraiseql_cache.setup_table_invalidation(" + c.quote(table) + ")");
        exec(c, "INSERT INTO " + table + " VALUES (1, '" + tenant + "', 0) "
                "ON CONFLICT (id) DO NOTHING");
    };
    // Waits until the worker serves `db` again: a write is reflected at once.
    auto wait_served = [&](std::unique_ptr<pqxx::connection> &c, seconds timeout,
                           long long *version_out) -> std::string {
        std::string last = "no attempt";
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            try {
                if (!c || !c->is_open())
                    c = connect_to(cluster.conninfo(db), seconds(10));
                std::string why;
                long long v = write_and_check(*c, &why);
                if (why.empty()) {
                    *version_out = v;
                    return "";
                }
                last = why;
            } catch (const std::exception &e) {
                last = std::string(sqlstate_of(e)) + " " + e.what();
                if (c && !c->is_open())
                    c.reset();
            }
            std::this_thread::sleep_for(milliseconds(100));
        }
        return "not served again after " + std::to_string(timeout.count()) + " s: " + last;
    };

    std::unique_ptr<pqxx::connection> served = connect_to(cluster.conninfo(db));
    set_up_served(*served);
    long long v_start = 0;
    ASSERT_EQ(wait_served(served, seconds(20), &v_start), "");

    // Another database: unaffected throughout; not served (55000 + hint).
    exec(*admin, "CREATE DATABASE fc_other");
    auto other = connect_to(cluster.conninfo("fc_other"));
    exec(*other, "CREATE TABLE fc_plain (n int); INSERT INTO fc_plain VALUES (0)");
    exec(*other, "CREATE TABLE tv_other (id int PRIMARY KEY, tenant_id uuid)");
    std::string r = try_sql(*other, "CREATE EXTENSION pg_fraiseql_cache");
    EXPECT_EQ(r, "ok") << "CREATE EXTENSION in a database not served";
    r = try_sql(*other, "SELECT fraiseql_cache.setup_table_invalidation('tv_other')");
    EXPECT_EQ(sqlstate_part(r), "55000") << r;
    EXPECT_NE(hint_part(r), "") << "no hint: " << r;
    RecordProperty("other_db_setup_error", r);

    // ---- renamed ------------------------------------------------------------
    close_connection(served);
    std::streamoff log_offset = file_size(log_path);
    ASSERT_EQ(exclusive_ddl(*admin, db, "ALTER DATABASE " + db + " RENAME TO fc_fault_db_renamed",
                            seconds(20)),
              "");
    Observation renamed = observe(*admin, *other, milliseconds(3000));
    std::string renamed_log = read_file_from(log_path, log_offset);
    EXPECT_TRUE(renamed.server_up) << renamed.failure;
    EXPECT_TRUE(renamed.other_db_ok) << renamed.failure;
    EXPECT_EQ(query_str(*admin, "SELECT pg_postmaster_start_time()::text"), postmaster_start)
        << "the server restarted";
    {
        auto c = connect_to(cluster.conninfo("fc_fault_db_renamed"));
        std::string rr = try_sql(*c, "SELECT fraiseql_cache.current_version('" + tenant +
                                         "', " + c->quote(domain) + ")");
        EXPECT_EQ(sqlstate_part(rr), "55000") << "current_version() in the renamed database: " << rr;
        std::string rw = try_sql(*c, "UPDATE " + table + " SET val = val + 1");
        EXPECT_EQ(sqlstate_part(rw), "55000") << "tracked write in the renamed database: " << rw;
        RecordProperty("renamed_current_version", rr);
        RecordProperty("renamed_write", rw);
        close_connection(c);
    }
    r = try_sql(*other, "SELECT fraiseql_cache.setup_table_invalidation('tv_other')");
    EXPECT_EQ(sqlstate_part(r), "55000") << "other database while the served one is renamed: " << r;
    RecordProperty("renamed_observation", summary(renamed));
    RecordProperty("renamed_log_fatal_lines", int(count_occurrences(renamed_log, "FATAL")));
    std::fprintf(stderr,
                 "[fault] served database renamed, 3 s: %s; log: %zu FATAL lines, e.g.\n%s",
                 summary(renamed).c_str(), count_occurrences(renamed_log, "FATAL"),
                 lines_with(renamed_log, "worker", 8).c_str());

    // ---- renamed back ---------------------------------------------------------
    ASSERT_EQ(exclusive_ddl(*admin, "fc_fault_db_renamed",
                            "ALTER DATABASE fc_fault_db_renamed RENAME TO " + db, seconds(20)),
              "");
    long long v_back = 0;
    auto back_start = Clock::now();
    ASSERT_EQ(wait_served(served, seconds(20), &v_back), "") << "after the rename back";
    EXPECT_GT(v_back, v_start);
    RecordProperty("served_again_after_rename_ms",
                   int(std::chrono::duration_cast<milliseconds>(Clock::now() - back_start).count()));
    const long long all_before_drop = version(*served, kAllTenants, domain);
    const long long v_before_drop = version(*served, tenant, domain);

    // ---- dropped --------------------------------------------------------------
    close_connection(served);
    log_offset = file_size(log_path);
    ASSERT_EQ(exclusive_ddl(*admin, db, "DROP DATABASE " + db, seconds(20)), "");
    Observation dropped = observe(*admin, *other, milliseconds(3000));
    std::string dropped_log = read_file_from(log_path, log_offset);
    EXPECT_TRUE(dropped.server_up) << dropped.failure;
    EXPECT_TRUE(dropped.other_db_ok) << dropped.failure;
    EXPECT_EQ(query_str(*admin, "SELECT pg_postmaster_start_time()::text"), postmaster_start)
        << "the server restarted";
    r = try_sql(*other, "SELECT fraiseql_cache.setup_table_invalidation('tv_other')");
    EXPECT_EQ(sqlstate_part(r), "55000") << "other database while the served one is dropped: " << r;
    RecordProperty("dropped_observation", summary(dropped));
    RecordProperty("dropped_log_fatal_lines", int(count_occurrences(dropped_log, "FATAL")));
    std::fprintf(stderr,
                 "[fault] served database dropped, 3 s: %s; log: %zu FATAL lines, e.g.\n%s",
                 summary(dropped).c_str(), count_occurrences(dropped_log, "FATAL"),
                 lines_with(dropped_log, "worker", 8).c_str());

    // ---- created again ----------------------------------------------------------
    // The dropped database's slot is released: no worker tries to connect to
    // it (no "does not exist" FATAL in the log). A new database of the same
    // name answers at once (setup succeeds), and must not hand out the
    // versions the dropped one showed.
    {
        const std::string fatal = "does not exist";
        std::this_thread::sleep_for(milliseconds(2000));
        EXPECT_EQ(count_occurrences(read_file_from(log_path, log_offset), fatal), 0u)
            << "a worker tried to connect to the dropped database";
    }
    exec(*admin, "CREATE DATABASE " + db);
    auto created_at = Clock::now();
    served = connect_to(cluster.conninfo(db));
    set_up_served(*served);
    if (worker_pid(*admin) == 0) {
        // Before its worker has started, the re-created database either
        // answers above what the dropped one showed, or refuses with 55000
        // (a cache miss for the client): never the dropped database's values
        // from shared memory, which would make entries tagged before the
        // drop look fresh.
        std::string early;
        try {
            const long long v_early = version(*served, tenant, domain);
            const long long all_early = version(*served, kAllTenants, domain);
            EXPECT_GT(v_early, v_before_drop) << "I3: re-created database, worker not back";
            EXPECT_GT(all_early, all_before_drop) << "all-tenants pair, same window";
            early = std::to_string(v_early) + " (before the drop: " +
                    std::to_string(v_before_drop) + ")";
        } catch (const std::exception &e) {
            EXPECT_EQ(sqlstate_of(e), "55000") << e.what();
            early = "refused (55000) until the worker is back";
            served = connect_to(cluster.conninfo(db));
        }
        RecordProperty("recreated_version_before_worker", early);
    } else {
        RecordProperty("recreated_version_before_worker", "window missed: worker already back");
    }
    long long v_new = 0;
    ASSERT_EQ(wait_served(served, seconds(40), &v_new), "") << "after the database came back";
    RecordProperty("served_again_after_create_ms",
                   int(std::chrono::duration_cast<milliseconds>(Clock::now() - created_at).count()));
    // Same tenant and domain names in the new database: a cache entry tagged
    // before the drop must not look fresh (as for DROP/CREATE EXTENSION).
    EXPECT_GT(v_new, v_before_drop) << "version of (tenant, domain) in the re-created database";
    EXPECT_GT(version(*served, kAllTenants, domain), all_before_drop);
    // Serving normally: one more write, one more bump.
    std::string why;
    long long v_next = write_and_check(*served, &why);
    EXPECT_EQ(why, "");
    EXPECT_EQ(v_next, v_new + 1);

    // A worker that could not connect must not be left running elsewhere.
    EXPECT_EQ(query_ll(*admin, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                               "'fraiseql_cache worker' AND datname IS DISTINCT FROM " +
                                   admin->quote(db)),
              0);
    close_connection(served);
    close_connection(other);
    close_connection(admin);
    RecordProperty("runtime_ms",
                   int(std::chrono::duration_cast<milliseconds>(Clock::now() - started).count()));
}

// =============================================================================
// 2b. One transaction touching more pairs than the ring has slots (16 here;
// a bulk UPDATE over 10k tenants against the default 8192 is the same case):
// it hands off in parts, waiting for the worker in between. Each pair, the
// all-tenants pair included, still counts the transaction once (I4).
TEST_F(Fault, TransactionLargerThanTheRingCountsOnce) {
    SystemSettingGuard ring_guard(conn_, "fraiseql_cache.ring_size");
    ASSERT_EQ(ring_guard.set("16"), "");
    ASSERT_EQ(wait_until_serving(), "");
    ASSERT_EQ(read_stats(*conn_).ring_size, 16);

    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    constexpr int kTenants = 40;
    exec(*conn_, "INSERT INTO " + t + " (id, tenant_id) SELECT g, gen_random_uuid() "
                 "FROM generate_series(1, " + std::to_string(kTenants) + ") g");
    ASSERT_EQ(wait_until_serving(), "");
    std::map<std::string, long long> before;
    {
        pqxx::nontransaction tx(*conn_);
        pqxx::result r = tx.exec("SELECT tenant_id::text, fraiseql_cache.current_version("
                                 "tenant_id, " + conn_->quote(d) + ") FROM " + t);
        for (const auto &row : r)
            before[row[0].as<std::string>()] = row[1].as<long long>();
    }
    const long long all_before = version(*conn_, kAllTenants, d);
    const Stats stats_before = read_stats(*conn_);

    // One transaction, one statement, 40 pairs.
    exec(*conn_, "UPDATE " + t + " SET val = val + 1");

    const Stats stats_after = read_stats(*conn_);
    const long long overflows = stats_after.overflows - stats_before.overflows;
    int off = 0;
    std::ostringstream diffs;
    for (const auto &[tenant, v0] : before) {
        long long v1 = version(*conn_, tenant, d);
        if (v1 != v0 + 1 && off++ < 3)
            diffs << " " << tenant << ": " << v0 << " -> " << v1;
    }
    EXPECT_EQ(overflows, 0) << "the worker should have drained the ring within the 50 ms wait";
    EXPECT_EQ(off, 0) << off << " of " << kTenants << " tenants not bumped exactly once:"
                      << diffs.str();
    EXPECT_EQ(version(*conn_, kAllTenants, d), all_before + 1)
        << "I4: the all-tenants pair counted one transaction (handed off in "
        << (kTenants + 15) / 16 << "+ parts, " << stats_after.ring_full_waits -
                                                    stats_before.ring_full_waits
        << " ring-full waits) more than once";
}

// =============================================================================
// 6. The smallest ring (16 slots) under normal traffic from 4 sessions: every
// pair's version goes up by exactly the number of committed transactions that
// touched it, unless an overflow forced a reset (then each still moved).
TEST_F(Fault, SmallestRingKeepsExactCounts) {
    SystemSettingGuard ring_guard(conn_, "fraiseql_cache.ring_size");
    ASSERT_EQ(ring_guard.set("16"), "");
    ASSERT_EQ(wait_until_serving(), "");
    ASSERT_EQ(read_stats(*conn_).ring_size, 16);

    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    constexpr int kThreads = 4, kOwn = 3, kShared = 1000;
    // Thread k owns rows k*10+1..k*10+kOwn, one tenant each; row kShared is
    // written by everyone now and then.
    std::vector<std::string> tenant_of(kThreads * 10 + kOwn + 1);
    for (int k = 0; k < kThreads; k++)
        for (int r = 1; r <= kOwn; r++) {
            tenant_of[k * 10 + r] = new_uuid();
            insert_row(t, k * 10 + r, tenant_of[k * 10 + r]);
        }
    const std::string shared_tenant = new_uuid();
    insert_row(t, kShared, shared_tenant);
    ASSERT_EQ(wait_until_serving(), "");

    std::map<int, long long> v_before, val_before;
    auto ids = [&] {
        std::vector<int> out;
        for (int k = 0; k < kThreads; k++)
            for (int r = 1; r <= kOwn; r++)
                out.push_back(k * 10 + r);
        out.push_back(kShared);
        return out;
    }();
    auto tenant_for = [&](int id) { return id == kShared ? shared_tenant : tenant_of[id]; };
    for (int id : ids) {
        v_before[id] = version(*conn_, tenant_for(id), d);
        val_before[id] = row_val(*conn_, t, id);
    }
    const long long all_before = version(*conn_, kAllTenants, d);
    const Stats stats_before = read_stats(*conn_);

    std::atomic<long long> transactions{0};
    std::atomic<int> failures{0};
    std::mutex mu;
    std::string first_failure;
    const auto until = Clock::now() + seconds(4);
    std::vector<std::thread> threads;
    for (int k = 0; k < kThreads; k++) {
        threads.emplace_back([&, k] {
            try {
                auto c = connect();
                // Two sessions without the read-your-writes wait run ahead of
                // the worker and fill the ring.
                if (k >= 2)
                    exec(*c, "SET fraiseql_cache.wait_for_bump = off");
                std::mt19937 rng(unsigned(k * 7919 + 17));
                while (Clock::now() < until) {
                    int mask = int(rng() % 7) + 1;  // a non-empty subset of own rows
                    bool with_shared = rng() % 5 == 0;
                    pqxx::work tx(*c);
                    for (int r = 1; r <= kOwn; r++)
                        if (mask & (1 << (r - 1)))
                            tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = " +
                                    std::to_string(k * 10 + r));
                    if (with_shared)
                        tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = " +
                                std::to_string(kShared));
                    tx.commit();
                    transactions++;
                }
            } catch (const std::exception &e) {
                std::lock_guard<std::mutex> g(mu);
                if (failures++ == 0)
                    first_failure = e.what();
            }
        });
    }
    for (auto &th : threads)
        th.join();
    ASSERT_EQ(failures.load(), 0) << first_failure;
    ASSERT_GT(transactions.load(), 100);

    // The sessions that did not wait: their last bumps arrive shortly.
    std::map<int, long long> expected;
    for (int id : ids)
        expected[id] = v_before[id] + (row_val(*conn_, t, id) - val_before[id]);
    const long long all_expected = all_before + transactions.load();
    // Overflows are counted by the committing sessions, so known by now.
    const long long overflows_seen = read_stats(*conn_).overflows - stats_before.overflows;
    wait_until(
        [&] {
            if (overflows_seen > 0)
                return read_stats(*conn_).resets - stats_before.resets > 0;
            for (int id : ids)
                if (version(*conn_, tenant_for(id), d) < expected[id])
                    return false;
            return version(*conn_, kAllTenants, d) >= all_expected;
        },
        seconds(10));
    std::this_thread::sleep_for(milliseconds(200));  // anything extra would show now
    const Stats stats_after = read_stats(*conn_);
    const long long overflows = stats_after.overflows - stats_before.overflows;
    const long long resets = stats_after.resets - stats_before.resets;
    RecordProperty("transactions", int(transactions.load()));
    RecordProperty("ring_full_waits", int(stats_after.ring_full_waits - stats_before.ring_full_waits));
    RecordProperty("overflows", int(overflows));
    std::fprintf(stderr, "[fault] ring 16, 4 sessions: %lld transactions, %lld ring-full waits, "
                         "%lld overflows, %lld resets\n",
                 transactions.load(), stats_after.ring_full_waits - stats_before.ring_full_waits,
                 overflows, resets);
    for (int id : ids) {
        long long v = version(*conn_, tenant_for(id), d);
        long long committed = expected[id] - v_before[id];
        if (overflows == 0) {
            EXPECT_EQ(v, expected[id]) << "row " << id << ": " << committed
                                       << " committed transactions from version " << v_before[id];
        } else {
            // A reset bumps every pair once, without counting the
            // transactions that did not fit: the pair only has to move.
            if (committed > 0) {
                EXPECT_GT(v, v_before[id]) << "row " << id << " (after " << overflows
                                           << " overflows)";
            }
        }
    }
    if (overflows == 0) {
        EXPECT_EQ(version(*conn_, kAllTenants, d), all_expected)
            << "all-tenants pair: one bump per committed transaction";
    } else {
        EXPECT_GT(version(*conn_, kAllTenants, d), all_before);
    }
}

}  // namespace
}  // namespace fcit
