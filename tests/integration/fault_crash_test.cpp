// Crashes and shutdowns under load (suite Fault):
//   1   kill -9 of a regular backend (postmaster crash-restart) under a writer
//   1b  reads after a crash while the restarted worker has not loaded yet
//   4   a clean (fast) shutdown while writers commit
// The fixture and its tools: fault_fixture.hpp.
#include <algorithm>
#include <atomic>
#include <climits>
#include <mutex>
#include <sstream>
#include <thread>

#include "fault_fixture.hpp"
#include "harness.hpp"
#include "server_log.hpp"
#include "writers.hpp"

namespace fcit {
namespace {

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

    std::atomic<long long> commits_after{0};
    std::atomic<int> not_read_back{0};
    std::mutex mu;
    std::string first_not_read_back;
    // Per tenant: the highest version the writer saw before the crash; the
    // first version it read after it (before its first commit there), the
    // row's val at that point, and the lowest version read after the crash.
    long long max_seen_before[kTenants] = {0, 0};
    long long first_after[kTenants] = {-1, -1};
    long long val_at_first_after[kTenants] = {-1, -1};
    long long min_seen_after[kTenants] = {LLONG_MAX, LLONG_MAX};

    // One writer, back as early as the server lets it in (a connection
    // attempt every 2 ms): reads racing the restarted worker's start-up are
    // the interesting ones. Its epoch is 1 on a connection made after the kill.
    WriterThreads::Options options;
    options.deadline = Clock::now() + seconds(60);
    options.reconnect = true;
    options.retry_interval = milliseconds(2);
    WriterThreads writer(options, [&](WriterThreads::Turn &w) {
        const long long i = w.iteration;
        const int j = int(i % kTenants);
        const bool after = w.epoch > 0;
        long long v0 = version(w.conn, tenants[j], d);
        long long val = 0;
        {
            pqxx::work tx(w.conn);
            pqxx::result r = tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = " +
                                     std::to_string(j + 1) + " RETURNING val");
            val = r[0][0].as<long long>();
            tx.commit();
        }
        long long v1 = version(w.conn, tenants[j], d);
        std::lock_guard<std::mutex> g(mu);
        w.committed();
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
            first_not_read_back = "commit " + std::to_string(i) + ": " + std::to_string(v0) +
                                  " -> " + std::to_string(v1);
    });

    ASSERT_TRUE(wait_until([&] { return writer.commits() >= 50; }, seconds(30)))
        << "the writer did not get going";
    BackendCrash crash;
    const auto before = all_current_versions(*conn_);
    ASSERT_TRUE(before.count(PairKey(idle, d)));
    const std::string log_path = server_log_path(*conn_);
    const std::streamoff log_offset = file_size(log_path);
    writer.set_epoch(1);
    ASSERT_EQ(crash.kill(), 0) << "kill -9 " << crash.victim_pid();
    conn_.reset();
    ASSERT_TRUE(crash.wait_for_session_end(seconds(20)))
        << "the postmaster did not end the other sessions after kill -9 of a backend";

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
    writer.stop();

    const std::string log = read_file_from(log_path, log_offset);
    EXPECT_NE(log.find("terminated by signal 9"), std::string::npos)
        << "no crash-restart in the server log";
    EXPECT_EQ(writer.failures(), 0) << "writer failures other than the crash: "
                                    << writer.first_failure();
    EXPECT_GE(writer.connection_losses(), 1) << "the kill did not crash-restart the server?";

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
        const NotRaised not_raised = pairs_not_raised(before, after);
        EXPECT_EQ(not_raised.count, 0) << "versions not raised by the crash-restart:"
                                       << not_raised.first;
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
    RecordProperty("commits", int(writer.commits()));
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

    BackendCrash crash;
    ASSERT_EQ(crash.kill(), 0);
    conn_.reset();
    ASSERT_TRUE(crash.wait_for_session_end(seconds(20)))
        << "the postmaster did not end the other sessions after kill -9 of a backend";
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

    std::atomic<long long> commits_after_restart[kWriters] = {{0}, {0}, {0}};
    std::atomic<int> not_read_back{0};
    std::mutex mu;
    std::string first_not_read_back;
    long long max_seen[kWriters] = {0, 0, 0}, shared_max_seen = 0;

    // Writer j writes row j + 1 (tenant j), and every third time the shared
    // row too; its epoch is 1 on a connection made after the restart.
    WriterThreads::Options options;
    options.threads = kWriters;
    options.deadline = Clock::now() + seconds(60);
    options.reconnect = true;
    options.retry_interval = milliseconds(5);
    options.pause_after_failure = milliseconds(5);
    WriterThreads writers(options, [&](WriterThreads::Turn &w) {
        const int j = w.thread;
        const bool with_shared = w.iteration % 3 == 0;
        long long v0 = version(w.conn, tenants[j], d);
        {
            pqxx::work tx(w.conn);
            tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = " + std::to_string(j + 1));
            if (with_shared)
                tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = " +
                        std::to_string(kShared));
            tx.commit();
        }
        long long v1 = version(w.conn, tenants[j], d);
        long long s1 = with_shared ? version(w.conn, shared_tenant, d) : 0;
        w.committed();
        if (w.epoch > 0)
            commits_after_restart[j]++;
        std::lock_guard<std::mutex> g(mu);
        max_seen[j] = std::max(max_seen[j], v1);
        shared_max_seen = std::max(shared_max_seen, s1);
        if (v1 <= v0 && not_read_back++ == 0)
            first_not_read_back = "writer " + std::to_string(j) + ": " + std::to_string(v0) +
                                  " -> " + std::to_string(v1);
    });

    ASSERT_TRUE(wait_until([&] { return writers.commits() >= 150; }, seconds(30)))
        << "the writers did not get going";
    writers.set_epoch(1);
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
    writers.stop();

    EXPECT_EQ(writers.failures(), 0) << "writer failures other than the shutdown: "
                                     << writers.first_failure();
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
    RecordProperty("connection_losses", writers.connection_losses());
}

}  // namespace
}  // namespace fcit
