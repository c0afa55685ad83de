#include "fault_fixture.hpp"

#include <signal.h>
#include <sys/types.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "stats.hpp"

namespace fcit {

Stats read_stats(pqxx::connection &c) {
    const auto counters = read_counters(c);
    Stats s;
    s.overflows = counters.at("overflows");
    s.resets = counters.at("resets");
    s.ring_full_waits = counters.at("ring_full_waits");
    s.wait_timeouts = counters.at("wait_timeouts");
    s.spilled_pairs = counters.at("spilled_pairs");
    s.floor = counters.at("floor");
    s.ring_size = counters.at("ring_size");
    s.max_entries = counters.at("max_entries");
    s.shared_entries = counters.at("shared_entries");
    s.table_reads = counters.at("table_reads");
    return s;
}

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

bool StoppedProcess::stop() {
    // Insurance should this program die before the destructor runs (the
    // watchdog, a crash): a stopped worker would hang the server's
    // shutdown. A SIGCONT to a running process changes nothing.
    std::system(("(sleep 30; kill -CONT " + std::to_string(pid_) + ") >/dev/null 2>&1 &").c_str());
    if (::kill(pid_t(pid_), SIGSTOP) != 0)
        return false;
    stopped_ = true;
    return wait_until([&] { return process_state(pid_) == 'T'; }, seconds(5), milliseconds(2));
}

void StoppedProcess::resume() {
    if (stopped_) {
        ::kill(pid_t(pid_), SIGCONT);
        stopped_ = false;
    }
}

PreparedLock::PreparedLock() : gid_("fc_fault_hold_" + random_hex(8)) {}

void PreparedLock::take(pqxx::connection &c, const std::string &lock_sql) {
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

void PreparedLock::release() {
    if (!armed_)
        return;
    armed_ = false;
    try {
        auto c = connect(seconds(60));
        if (query_ll(*c, "SELECT count(*) FROM pg_prepared_xacts WHERE gid = " + c->quote(gid_)) >
            0)
            exec(*c, "COMMIT PREPARED " + c->quote(gid_));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "fault tests: could not resolve prepared transaction %s: %s\n",
                     gid_.c_str(), e.what());
        ADD_FAILURE() << "could not resolve prepared transaction " << gid_ << ": " << e.what();
    }
}

BackendCrash::BackendCrash() : victim_(connect()) {
    victim_pid_ = int(query_ll(*victim_, "SELECT pg_backend_pid()"));
    sentinel_ = connect();
}

int BackendCrash::kill() {
    int rc = ::kill(pid_t(victim_pid_), SIGKILL);
    victim_.reset();
    return rc;
}

bool BackendCrash::wait_for_session_end(milliseconds timeout) {
    bool ended = wait_until(
        [&] {
            try {
                exec(*sentinel_, "SELECT 1");
                return false;
            } catch (const std::exception &) {
                return true;
            }
        },
        timeout, milliseconds(1));
    sentinel_.reset();
    return ended;
}

void Fault::insert_row(const std::string &t, int id, const std::string &tenant) {
    exec(*conn_, "INSERT INTO " + t + " VALUES (" + std::to_string(id) + ", '" + tenant + "', 0)");
}

long long Fault::row_val(pqxx::connection &c, const std::string &t, int id) {
    return query_ll(c, "SELECT val FROM " + t + " WHERE id = " + std::to_string(id));
}

}  // namespace fcit
