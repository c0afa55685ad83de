// Writer threads: threads that commit writes in a loop, each on a connection
// of its own, and count their commits, connection losses and failures.
//
//   WriterThreads::Options o;
//   o.threads = 3;
//   o.deadline = Clock::now() + seconds(60);
//   o.reconnect = true;                         // ride out server restarts
//   WriterThreads writers(o, [&](WriterThreads::Turn &t) {
//       exec(t.conn, "UPDATE ...");
//       t.committed();
//   });
//   ...
//   writers.stop();                             // or the destructor
//
// A turn that throws is counted. With `reconnect`, an error meaning the
// server went away (is_connection_loss, or a closed connection) is a
// connection loss and the thread connects again; anything else is a
// failure, and the thread goes on while its connection is open (without
// `reconnect`, a thread whose connection is gone ends).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace fcit {

class WriterThreads {
  public:
    struct Options {
        int threads = 1;
        // Required: no thread starts a turn after it.
        Clock::time_point deadline{};
        // Turns per thread; -1: until stop() or the deadline.
        long long iterations = -1;
        // Connection losses are ridden out: the thread connects again, as
        // early as the server lets it in (every retry_interval, until the
        // deadline). Without it a thread connects once, with connect()'s
        // defaults.
        bool reconnect = false;
        milliseconds retry_interval{2};
        // A pause after a failure that was not a connection loss.
        milliseconds pause_after_failure{0};
        // Run on each new connection of thread k (SET ...) before its
        // turns; if it throws, the failure is counted and the connection
        // dropped (the thread ends unless `reconnect`).
        std::function<void(int k, pqxx::connection &)> on_connect;
    };

    // What a turn is given.
    class Turn {
      public:
        const int thread;          // 0 .. threads-1
        const long long iteration; // this thread's turns so far, failed ones included
        pqxx::connection &conn;
        const int epoch;           // epoch() when `conn` was made
        // Counts one committed transaction (call it where the test counts it).
        void committed() const;

      private:
        friend class WriterThreads;
        Turn(int k, long long i, pqxx::connection &c, int e, WriterThreads &w)
            : thread(k), iteration(i), conn(c), epoch(e), owner_(w) {}
        WriterThreads &owner_;
    };
    using TurnFunction = std::function<void(Turn &)>;

    // Starts the threads.
    WriterThreads(Options options, TurnFunction turn);
    // stop(): no test leaves a writer running.
    ~WriterThreads();
    WriterThreads(const WriterThreads &) = delete;
    WriterThreads &operator=(const WriterThreads &) = delete;

    // Asks every thread to end after its current turn, and joins them.
    void stop();
    // Joins the threads once they end by themselves (deadline, iterations).
    void wait();

    // A number the test moves on (e.g. at a crash): each turn sees the
    // value it had when its thread's connection was made.
    void set_epoch(int epoch) { epoch_ = epoch; }

    long long commits() const { return commits_.load(); }
    long long commits(int thread) const { return per_thread_[std::size_t(thread)]->load(); }
    int connection_losses() const { return connection_losses_.load(); }
    int failures() const { return failures_.load(); }
    // "<SQLSTATE> <message>" of the first failure ("" if none).
    std::string first_failure() const;
    // "writer <k>: <message>" per failure, one a line, the first 2000 bytes.
    std::string failure_log() const;

  private:
    void run(int k);
    void failed(int k, const std::exception &e);

    const Options options_;
    const TurnFunction turn_;
    std::atomic<bool> stop_{false};
    std::atomic<int> epoch_{0};
    std::atomic<long long> commits_{0};
    std::vector<std::unique_ptr<std::atomic<long long>>> per_thread_;
    std::atomic<int> connection_losses_{0}, failures_{0};
    mutable std::mutex mu_;
    std::string first_failure_, failure_log_;
    std::vector<std::thread> threads_;
};

}  // namespace fcit
