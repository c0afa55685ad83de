// The stale-read oracle, through the watcher: a writer commits val = 1, 2,
// 3... to one row; readers in the same process follow the cache protocol
// with a VersionWatcher (local versions) and an in-process LRU. A hit is
// stale when it serves a value older than a commit that had returned before
// the reader read its versions.
//
//   with refresh(): the writer calls refresh() after each COMMIT (and only
//                   then counts the write as done): zero stale hits, asserted.
//   without:        a hit can lag a commit by the notification delay;
//                   reported (count, worst staleness) next to the measured
//                   lag from COMMIT returning to the watcher applying the
//                   notification, and bounded by a generous 5 s.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "client_env.hpp"
#include "fraiseql_cache/client/lru_store.hpp"
#include "fraiseql_cache/client/version_watcher.hpp"
#include "fraiseql_cache/client/versioned_cache.hpp"

namespace fcct {
namespace {

namespace fc = fraiseql_cache::client;

struct OracleResult {
    int writes = 0;
    long long lookups = 0, hits = 0, stale_hits = 0, stale_misses = 0;
    double worst_staleness_ms = 0;
    std::vector<double> lag_ms;  // per commit: COMMIT returned -> watcher applied its version
};

double percentile(std::vector<double> v, double p) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    std::size_t i = std::size_t(p * double(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

class Oracle : public ClientTest {
  protected:
    OracleResult run(bool refresh, int readers_n = 3) {
        const int kWrites = 300;
        const int kReaders = readers_n;
        std::string t = make_table(refresh ? "oracle_r" : "oracle_n");
        std::string d = domain_of(t);
        std::string tenant = new_uuid();
        exec(*conn_, "INSERT INTO " + t + " (id, tenant_id, val) VALUES (1, '" + tenant + "', 0)");

        fc::WatcherOptions o;
        o.conninfo = conninfo();
        fc::VersionWatcher w(o);
        EXPECT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
        fc::LruStore store(16);
        fc::VersionedCache<std::string> cache(w, store);

        // When the watcher applied each version of (tenant, d).
        std::mutex applied_mu;
        std::vector<std::pair<fc::Version, Clock::time_point>> applied;
        w.on_update([&](const fc::VersionUpdate &u) {
            if (u.pair.tenant == tenant && u.pair.domain == d) {
                auto now = Clock::now();
                std::lock_guard<std::mutex> lock(applied_mu);
                applied.emplace_back(u.version, now);
            }
        });
        w.versions(tenant, {d});

        // commit_time[i]: when the commit of val = i had returned (and, with
        // refresh, been refreshed); commit_version[i]: the version it made.
        std::vector<Clock::time_point> commit_time(kWrites + 2);
        std::vector<fc::Version> commit_version(kWrites + 2, 0);
        std::atomic<int> done_val{0};
        std::atomic<bool> stop{false};

        OracleResult res;
        std::mutex res_mu;
        std::vector<std::thread> readers;
        for (int r = 0; r < kReaders; r++)
            readers.emplace_back([&] {
                long long lookups = 0, hits = 0, stale_hits = 0, stale_misses = 0;
                double worst = 0;
                try {
                    auto c = connect();
                    while (!stop.load()) {
                        const int floor = done_val.load();  // before the version read
                        auto got = cache.fetch("row", tenant, {d}, [&] {
                            return std::to_string(query_ll(*c, "SELECT val FROM " + t + " WHERE id = 1"));
                        });
                        const auto now = Clock::now();
                        const int val = std::stoi(got.value);
                        lookups++;
                        // An application does some work between cache checks;
                        // a tight loop would only starve the listener of CPU.
                        std::this_thread::sleep_for(std::chrono::microseconds(100));
                        if (got.outcome == fc::CacheOutcome::Hit)
                            hits++;
                        if (val < floor) {
                            if (got.outcome == fc::CacheOutcome::Hit) {
                                stale_hits++;
                                // Stale since the first commit it does not show.
                                worst = std::max(worst, std::chrono::duration<double, std::milli>(
                                                            now - commit_time[val + 1]).count());
                            } else {
                                stale_misses++;
                            }
                        }
                    }
                } catch (const std::exception &e) {
                    ADD_FAILURE() << "reader: " << e.what();
                }
                std::lock_guard<std::mutex> lock(res_mu);
                res.lookups += lookups;
                res.hits += hits;
                res.stale_hits += stale_hits;
                res.stale_misses += stale_misses;
                res.worst_staleness_ms = std::max(res.worst_staleness_ms, worst);
            });

        try {
            auto writer = connect();
            for (int i = 1; i <= kWrites; i++) {
                exec(*writer, "UPDATE " + t + " SET val = " + std::to_string(i) + " WHERE id = 1");
                if (refresh) {
                    commit_version[i] = w.refresh(tenant, {d})[0];
                    commit_time[i] = Clock::now();
                    done_val.store(i);
                } else {
                    commit_time[i] = Clock::now();
                    done_val.store(i);
                    commit_version[i] = version(*writer, tenant, d);
                }
                res.writes++;
                std::this_thread::sleep_for(milliseconds(2));
            }
        } catch (const std::exception &e) {
            ADD_FAILURE() << "writer: " << e.what();
        }
        std::this_thread::sleep_for(milliseconds(50));
        stop = true;
        for (auto &th : readers)
            th.join();
        wait_until([&] { return w.versions(tenant, {d})[0] >= commit_version[kWrites]; }, seconds(10));

        // Lag: COMMIT returned -> the watcher applied that commit's version.
        std::lock_guard<std::mutex> lock(applied_mu);
        for (int i = 1; i <= res.writes; i++) {
            for (const auto &[v, at] : applied) {
                if (v >= commit_version[i]) {
                    // Negative: applied before the writer's COMMIT returned
                    // (the worker notifies before the committer's wait ends).
                    res.lag_ms.push_back(
                        std::chrono::duration<double, std::milli>(at - commit_time[i]).count());
                    break;
                }
            }
        }
        return res;
    }

    static void report(const char *mode, const OracleResult &r, bool with_lag) {
        std::printf("[ oracle %s ] %d writes, %lld lookups, %lld hits, %lld stale hits "
                    "(%.2f%% of hits), worst staleness %.3f ms",
                    mode, r.writes, r.lookups, r.hits, r.stale_hits,
                    r.hits ? 100.0 * double(r.stale_hits) / double(r.hits) : 0.0,
                    r.worst_staleness_ms);
        if (with_lag)
            std::printf("; notification lag (COMMIT returned -> applied by the watcher) "
                        "p50 %.3f ms, p99 %.3f ms, max %.3f ms over %zu commits",
                        percentile(r.lag_ms, 0.5), percentile(r.lag_ms, 0.99),
                        percentile(r.lag_ms, 1.0), r.lag_ms.size());
        std::printf("\n");
        std::fflush(stdout);
        ::testing::Test::RecordProperty(std::string(mode) + "_stale_hits", std::to_string(r.stale_hits));
    }
};

TEST_F(Oracle, WithRefreshNoStaleHit) {
    OracleResult r = run(/*refresh=*/true);
    report("with refresh()", r, false);
    EXPECT_EQ(r.stale_hits, 0) << "a hit served a value older than a write refreshed before it";
    EXPECT_EQ(r.stale_misses, 0) << "a computed value was older than a returned commit";
    EXPECT_GT(r.hits, 0) << "no hit at all: the oracle tested nothing";
    EXPECT_EQ(r.writes, 300);
}

TEST_F(Oracle, WithoutRefreshStalenessBoundedByNotificationLag) {
    OracleResult r = run(/*refresh=*/false);
    report("without refresh()", r, true);
    EXPECT_EQ(r.stale_misses, 0) << "a computed value was older than a returned commit";
    EXPECT_GT(r.hits, 0) << "no hit at all: the oracle tested nothing";
    EXPECT_EQ(r.lag_ms.size(), std::size_t(r.writes)) << "some commit was never applied by the watcher";
    EXPECT_LT(r.worst_staleness_ms, 5000.0) << "a stale hit outlived any notification delay";
}

// The notification lag alone: no reader competes for the CPU.
TEST_F(Oracle, NotificationLagQuiet) {
    OracleResult r = run(/*refresh=*/false, /*readers=*/0);
    std::size_t early = std::size_t(
        std::count_if(r.lag_ms.begin(), r.lag_ms.end(), [](double ms) { return ms <= 0; }));
    std::printf("[ notification lag, quiet ] COMMIT returned -> applied by the watcher: "
                "p50 %.3f ms, p99 %.3f ms, max %.3f ms over %zu commits; %zu applied before "
                "COMMIT returned\n",
                percentile(r.lag_ms, 0.5), percentile(r.lag_ms, 0.99), percentile(r.lag_ms, 1.0),
                r.lag_ms.size(), early);
    EXPECT_EQ(r.lag_ms.size(), std::size_t(r.writes)) << "some commit was never applied by the watcher";
    EXPECT_LT(percentile(r.lag_ms, 1.0), 5000.0);
}

}  // namespace
}  // namespace fcct
