// Stale-read oracle (suite Oracle): writers and cache clients following the
// protocol of DESIGN.md section 2 run concurrently for FRAISEQL_SOAK_SECONDS
// (default 60); a cache hit that serves a value older than a commit which had
// returned before the client's lookup began is a stale hit, and there must be
// none.
//
// Data: one row per (tenant, key), val bigint, only ever incremented.
// Writers: each transaction increments 1 or 2 random cells and commits
// (wait_for_bump = on, wait_timeout_ms at its maximum: I6 is bounded by
// that wait, and a commit whose wait ran out returns before its bump is
// visible by design, which a loaded machine can cause at the 1 s default;
// stats() counts such commits, and the report names them); after COMMIT
// returns the writer takes a monotonic
// timestamp and records (timestamp, new value) per cell. The timestamp is
// taken after COMMIT returned, so "recorded before t0" implies "returned
// before t0": the oracle can miss a constraint, never invent one.
// Clients: an in-process map (tenant, key) -> (value, version). A lookup:
// t0 := now; v := current_version(tenant, domain) (one round trip); entry
// version == v: a hit, serve the entry's value; else a miss: read the row
// (after v was read) and store (value, v).
// Check (after the run, so a writer that records its commit late is still
// taken into account): a hit at t0 serving value x for cell c is stale if
// some commit to c returned before t0 with a value > x (values increase, so
// the bound is the maximum value committed to c before t0).
//
// Why a broken product fails this check. Let commit C (cell c, value w)
// return before t0, and the hit serve (x, v) stored by a miss that read
// version v at time r1 and then the row at r2 > r1.
//   - I6 (read-your-writes) makes C's bump visible before t0, so the version
//     read at t0 (= v) includes C's bump; versions only grow, so at r1 the
//     version v already included C's bump too (else the version would have
//     grown between r1 and t0 and the lookup at t0 would have missed).
//   - I1 (no early bump): C's bump was visible at r1 only after C's data
//     was, so the row read at r2 > r1 shows w or later: x >= w.
// So a product that publishes a bump before the data is visible (I1), loses
// a bump or reuses a version (I2, I3), or lets COMMIT return before its bump
// is visible (I6), lets some hit serve x < w: a stale hit. Only the client's
// order (version, then data) and these invariants make stale hits impossible.
// The negative control (BrokenProtocolIsCaught) runs the same oracle with the
// client reading the version AFTER the data on a miss, which tags data with a
// version that may be newer than it: exactly the state an early bump (I1
// broken) produces. The oracle must see stale hits there.
#include <algorithm>
#include <array>
#include <atomic>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "soak_common.hpp"
#include "stats.hpp"
#include "writers.hpp"

namespace fcit {
namespace {

[[maybe_unused]] const bool watchdog_raised = soak::raise_watchdog();

constexpr int kWriterThreads = 3;
constexpr int kClientThreads = 3;
constexpr int kTenantCount = 4;
constexpr int kKeys = 3;
constexpr int kCells = kTenantCount * kKeys;  // cell = tenant * kKeys + key = row id
// Writers pause a random 0..kWriterPauseUs between transactions, so that
// versions sometimes stay put long enough for hits.
constexpr int kWriterPauseUs = 1000;
// The writers' fraiseql_cache.wait_timeout_ms: its maximum (60 s).
constexpr int kWaitTimeoutMs = 60000;

struct CommitRecord {
    Clock::time_point returned;
    long long value;
};

struct Observation {
    int cell;
    Clock::time_point t0;
    long long value;
    long long version;
    bool hit;
};

struct OracleResult {
    long long hits = 0, misses = 0, stale_hits = 0, stale_reads = 0;
    long long writer_commits = 0, writer_failures = 0, client_failures = 0;
    // Commits that returned before their bump was published (stats() over
    // the run): waits that reached wait_timeout_ms, waits cut short for a
    // worker stalled on a session's lock.
    long long wait_timeouts = 0, stalled_waits = 0;
    double seconds = 0;
    std::string errors, stale_examples;
};

class Oracle : public IntegrationTest {
  protected:
    // Runs writers and clients for `run_for`; `broken`: clients read the
    // version after the data on a miss (the negative control).
    OracleResult run(seconds run_for, bool broken) {
        const std::string t = table_name("");
        const std::string d = domain_of(t);
        create_table(t,
                     "(id int PRIMARY KEY, tenant_id uuid NOT NULL, key int NOT NULL, "
                     "val bigint NOT NULL DEFAULT 0)");
        track(t);
        std::array<std::string, kTenantCount> tenants;
        std::string values;
        for (int j = 0; j < kTenantCount; j++) {
            tenants[j] = new_uuid();
            for (int k = 0; k < kKeys; k++)
                values += std::string(values.empty() ? "" : ", ") + "(" +
                          std::to_string(j * kKeys + k) + ", '" + tenants[j] + "', " +
                          std::to_string(k) + ", 0)";
        }
        exec(*conn_, "INSERT INTO " + t + " VALUES " + values);
        const auto counters_before = cut_short_waits();

        std::mutex history_mu;
        std::array<std::vector<CommitRecord>, kCells> history;
        std::array<std::vector<Observation>, kClientThreads> observations;
        std::atomic<long long> client_failures{0};
        std::mutex err_mu;
        std::string errors;
        auto note = [&](const std::string &who, const std::exception &e) {
            std::lock_guard<std::mutex> g(err_mu);
            if (errors.size() < 2000)
                errors += who + ": " + e.what() + "\n";
        };

        const auto start = Clock::now();
        const auto deadline = start + run_for;
        // Writers: each transaction increments 1 or 2 random cells.
        std::vector<std::mt19937_64> writer_rngs;
        for (int w = 0; w < kWriterThreads; w++)
            writer_rngs.emplace_back(std::random_device{}() + uint64_t(w) * 7919);
        WriterThreads::Options options;
        options.threads = kWriterThreads;
        options.deadline = deadline;
        options.on_connect = [](int, pqxx::connection &c) {
            exec(c, "SET fraiseql_cache.wait_for_bump = on");
            exec(c, "SET fraiseql_cache.wait_timeout_ms = " + std::to_string(kWaitTimeoutMs));
        };
        WriterThreads writers(options, [&](WriterThreads::Turn &w) {
            std::mt19937_64 &rng = writer_rngs[std::size_t(w.thread)];
            std::uniform_int_distribution<int> cell_of(0, kCells - 1), pause(0, kWriterPauseUs),
                pct(0, 99);
            std::vector<int> cells{cell_of(rng)};
            if (pct(rng) < 20) {
                int other = cell_of(rng);
                if (other != cells[0])
                    cells.push_back(other);
                std::sort(cells.begin(), cells.end());  // lock order: no deadlock
            }
            std::vector<long long> vals;
            {
                pqxx::work tx(w.conn);
                for (int cell : cells)
                    vals.push_back(tx.exec_params("UPDATE " + t +
                                                      " SET val = val + 1 WHERE id = $1 RETURNING val",
                                                  cell)[0][0]
                                       .as<long long>());
                tx.commit();
            }
            const auto returned = Clock::now();
            w.committed();
            {
                std::lock_guard<std::mutex> g(history_mu);
                for (std::size_t i = 0; i < cells.size(); i++)
                    history[std::size_t(cells[i])].push_back({returned, vals[i]});
            }
            std::this_thread::sleep_for(std::chrono::microseconds(pause(rng)));
        });
        std::vector<std::thread> threads;
        for (int ci = 0; ci < kClientThreads; ci++) {
            threads.emplace_back([&, ci] {
                std::mt19937_64 rng(std::random_device{}() + uint64_t(ci) * 104729);
                std::uniform_int_distribution<int> cell_of(0, kCells - 1);
                struct Entry {
                    long long value, version;
                };
                std::map<int, Entry> cache;
                auto &obs = observations[std::size_t(ci)];
                try {
                    auto c = connect();
                    c->prepare("ver", "SELECT fraiseql_cache.current_version($1::uuid, $2::text)");
                    c->prepare("row", "SELECT val FROM " + t + " WHERE id = $1");
                    pqxx::nontransaction n(*c);
                    auto read_version = [&](int cell) {
                        return n.exec_prepared("ver", tenants[std::size_t(cell / kKeys)], d)[0][0]
                            .as<long long>();
                    };
                    auto read_row = [&](int cell) {
                        return n.exec_prepared("row", cell)[0][0].as<long long>();
                    };
                    while (Clock::now() < deadline) {
                        const int cell = cell_of(rng);
                        const auto t0 = Clock::now();
                        const long long v = read_version(cell);
                        auto it = cache.find(cell);
                        if (it != cache.end() && it->second.version == v) {
                            obs.push_back({cell, t0, it->second.value, v, true});
                            continue;
                        }
                        long long value = read_row(cell);
                        long long tag = v;
                        if (broken)  // the bug: the version is read after the data
                            tag = read_version(cell);
                        cache[cell] = {value, tag};
                        obs.push_back({cell, t0, value, tag, false});
                    }
                } catch (const std::exception &e) {
                    client_failures++;
                    note("client " + std::to_string(ci), e);
                }
            });
        }
        for (auto &th : threads)
            th.join();
        writers.wait();

        OracleResult res;
        res.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        const auto counters_after = cut_short_waits();
        res.wait_timeouts = counters_after.first - counters_before.first;
        res.stalled_waits = counters_after.second - counters_before.second;
        res.writer_commits = writers.commits();
        res.writer_failures = writers.failures();
        res.client_failures = client_failures;
        res.errors = writers.failure_log() + errors;
        // Per cell: commits ordered by the time COMMIT returned, with the
        // running maximum of the values committed up to then.
        std::array<std::vector<std::pair<Clock::time_point, long long>>, kCells> bound;
        for (int cell = 0; cell < kCells; cell++) {
            auto h = history[std::size_t(cell)];
            std::sort(h.begin(), h.end(), [](const CommitRecord &a, const CommitRecord &b) {
                return a.returned < b.returned;
            });
            long long running = 0;
            for (const auto &r : h) {
                running = std::max(running, r.value);
                bound[std::size_t(cell)].push_back({r.returned, running});
            }
        }
        auto committed_before = [&](int cell, Clock::time_point t0) -> long long {
            const auto &b = bound[std::size_t(cell)];
            // The last commit that returned strictly before t0.
            auto it = std::lower_bound(
                b.begin(), b.end(), t0,
                [](const std::pair<Clock::time_point, long long> &e, Clock::time_point x) {
                    return e.first < x;
                });
            return it == b.begin() ? 0 : std::prev(it)->second;
        };
        for (const auto &obs : observations) {
            for (const auto &o : obs) {
                const long long must = committed_before(o.cell, o.t0);
                if (o.hit) {
                    res.hits++;
                    if (o.value < must) {
                        if (res.stale_hits < 5)
                            res.stale_examples += " [cell " + std::to_string(o.cell) +
                                                  ": served " + std::to_string(o.value) +
                                                  " at version " + std::to_string(o.version) +
                                                  ", " + std::to_string(must) +
                                                  " committed before the lookup]";
                        res.stale_hits++;
                    }
                } else {
                    res.misses++;
                    // A read made after t0 must see what had committed: a
                    // sanity check of the oracle's own bookkeeping.
                    if (o.value < must)
                        res.stale_reads++;
                }
            }
        }
        return res;
    }

    // (wait_timeouts, stalled_waits) from stats(): counters since server start.
    std::pair<long long, long long> cut_short_waits() {
        const auto counters = read_counters(*conn_);
        return {counters.at("wait_timeouts"), counters.at("stalled_waits")};
    }

    void report(const char *label, const OracleResult &r) {
        const double ratio = r.hits + r.misses ? double(r.hits) / double(r.hits + r.misses) : 0;
        RecordProperty("seconds", std::to_string(r.seconds));
        RecordProperty("writer_commits", std::to_string(r.writer_commits));
        RecordProperty("hits", std::to_string(r.hits));
        RecordProperty("misses", std::to_string(r.misses));
        RecordProperty("stale_hits", std::to_string(r.stale_hits));
        RecordProperty("wait_timeouts", std::to_string(r.wait_timeouts));
        RecordProperty("stalled_waits", std::to_string(r.stalled_waits));
        RecordProperty("hit_ratio", std::to_string(ratio));
        std::ostringstream s;
        s << std::fixed << std::setprecision(1) << "[ oracle   ] " << label << ": " << r.seconds
          << " s, " << kWriterThreads << " writers, " << kClientThreads << " clients, "
          << kTenantCount << " tenants x " << kKeys << " keys: " << r.writer_commits
          << " commits (" << r.writer_commits / r.seconds << "/s), " << r.hits << " hits, "
          << r.misses << " misses, hit ratio " << std::setprecision(3) << ratio << ", "
          << r.stale_hits << " stale hits, " << r.stale_reads << " stale reads; commits back "
          << "before publication: " << r.wait_timeouts << " wait timeouts, " << r.stalled_waits
          << " stalled waits";
        std::cout << s.str() << std::endl;
    }
};

TEST_F(Oracle, NoStaleHitsUnderConcurrentWriters) {
    OracleResult r = run(seconds(soak::soak_seconds()), /*broken=*/false);
    report("protocol", r);
    EXPECT_EQ(r.writer_failures, 0) << r.errors;
    EXPECT_EQ(r.client_failures, 0) << r.errors;
    EXPECT_EQ(r.stale_reads, 0) << "a read after a commit returned did not see it";
    EXPECT_EQ(r.stale_hits, 0) << "cache hits served data older than a commit that had returned "
                                  "before the lookup:"
                               << r.stale_examples << "; commits that returned before their bump "
                               << "was published: " << r.wait_timeouts << " wait timeouts (after "
                               << kWaitTimeoutMs << " ms), " << r.stalled_waits
                               << " stalled waits (stats())";
    EXPECT_GT(r.hits, 0) << "no hits: the oracle checked nothing";
    EXPECT_GT(r.misses, 0);
    EXPECT_GT(r.writer_commits, 0);
}

// Negative control: the same oracle with clients that read the version AFTER
// the data on a miss. A commit landing between the two reads leaves an
// entry with old data and the new version; the next lookup before another
// bump of that tenant serves it. Short: min(FRAISEQL_SOAK_SECONDS, 10) s.
TEST_F(Oracle, BrokenProtocolIsCaught) {
    OracleResult r = run(seconds(std::min(soak::soak_seconds(), 10)), /*broken=*/true);
    report("broken client (version after data)", r);
    EXPECT_EQ(r.writer_failures, 0) << r.errors;
    EXPECT_EQ(r.client_failures, 0) << r.errors;
    EXPECT_EQ(r.stale_reads, 0);
    EXPECT_GT(r.stale_hits, 0) << "the oracle did not catch a client that reads the version "
                                  "after the data";
}

}  // namespace
}  // namespace fcit
