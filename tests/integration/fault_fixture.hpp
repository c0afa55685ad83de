// The fixture and tools of the fault-injection tests (suite Fault,
// fault_*_test.cpp): stats() counters, a stopped process, a prepared
// transaction holding a lock, a backend crashed with kill -9.
//
// Cluster settings changed there (ring_size, max_entries) are restored by a
// SystemSettingGuard (ALTER SYSTEM RESET + restart) also when a test fails;
// a stopped worker is always continued, a prepared transaction always
// resolved.
#pragma once

#include <memory>
#include <string>

#include "harness.hpp"

namespace fcit {

// Counters and sizes of fraiseql_cache.stats() (stats.hpp) the fault tests use.
struct Stats {
    long long overflows = 0, resets = 0, ring_full_waits = 0, wait_timeouts = 0,
              spilled_pairs = 0, floor = 0, ring_size = 0, max_entries = 0, shared_entries = 0,
              table_reads = 0;
};
Stats read_stats(pqxx::connection &c);

// Process state letter from /proc/<pid>/stat ('T' = stopped), '?' if gone.
char process_state(int pid);

// SIGSTOP of a process, SIGCONT in the destructor whatever happens.
class StoppedProcess {
  public:
    explicit StoppedProcess(int pid) : pid_(pid) {}
    StoppedProcess(const StoppedProcess &) = delete;
    StoppedProcess &operator=(const StoppedProcess &) = delete;
    // True once the process shows as stopped.
    bool stop();
    void resume();
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
    PreparedLock();
    PreparedLock(const PreparedLock &) = delete;
    PreparedLock &operator=(const PreparedLock &) = delete;
    void take(pqxx::connection &c, const std::string &lock_sql);
    void release();
    ~PreparedLock() { release(); }

  private:
    std::string gid_;
    bool armed_ = false;
};

// A crash of the server: kill -9 of an idle regular backend (the victim),
// after which the postmaster ends every session and restarts (crash
// recovery). The sentinel, a session made before, is ended by the
// postmaster when it reacts: a connection made after that is one to the
// restarted server.
class BackendCrash {
  public:
    BackendCrash();
    int victim_pid() const { return victim_pid_; }
    // kill -9 of the victim; ::kill()'s result.
    int kill();
    // True once the sentinel's session has been ended, within `timeout`.
    bool wait_for_session_end(milliseconds timeout);

  private:
    std::unique_ptr<pqxx::connection> victim_, sentinel_;
    int victim_pid_ = 0;
};

class Fault : public IntegrationTest {
  protected:
    void insert_row(const std::string &t, int id, const std::string &tenant);
    long long row_val(pqxx::connection &c, const std::string &t, int id);
};

}  // namespace fcit
