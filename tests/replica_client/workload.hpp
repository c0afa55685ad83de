// The load of the replica-mode client test: writers on the primary, the WAL
// marks the stale-read rule needs, and what each commit returned. The same
// roles as tests/standby/workload.py and oracle.py, in C++.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace replica_client {

using SeqMap = std::map<std::string, long long>;  // tenant -> seq

// Per tenant, the highest seq whose COMMIT has returned to its writer.
class Returned {
  public:
    void add(const std::string &tenant, long long seq);
    SeqMap snapshot() const;

  private:
    mutable std::mutex mu_;
    SeqMap seq_;
};

// A thread that runs body() until stop(); the first exception ends it and
// is kept in error().
class Worker {
  public:
    virtual ~Worker();
    void start();
    void stop();
    std::string error() const;

  protected:
    virtual void body() = 0;
    std::atomic<bool> stopping_{false};

  private:
    std::thread thread_;
    mutable std::mutex mu_;
    std::string error_;
};

// Commits one UPDATE at a time, each adding 1 to one tenant's seq.
class Writer : public Worker {
  public:
    Writer(std::string conninfo, std::vector<std::string> tenants, unsigned seed, Returned &r)
        : conninfo_(std::move(conninfo)), tenants_(std::move(tenants)), seed_(seed), returned_(r) {}
    std::uint64_t commits() const { return commits_.load(); }

  protected:
    void body() override;

  private:
    std::string conninfo_;
    std::vector<std::string> tenants_;
    unsigned seed_;
    Returned &returned_;
    std::atomic<std::uint64_t> commits_{0};
};

// On the primary: (WAL insert position, commits returned before it was read).
// required(replayed): from the newest mark the standby has replayed, the
// highest seq returned before that mark (the design's stale-read rule).
class Marks : public Worker {
  public:
    Marks(std::string conninfo, Returned &r) : conninfo_(std::move(conninfo)), returned_(r) {}
    SeqMap required(std::uint64_t replayed) const;
    std::size_t count() const;

  protected:
    void body() override;

  private:
    std::string conninfo_;
    Returned &returned_;
    mutable std::mutex mu_;
    std::vector<std::uint64_t> lsns_;
    std::vector<SeqMap> snaps_;
};

}  // namespace replica_client
