// Concurrent sessions: read-your-writes across sessions (I6), no write
// contention between writers of the same pair (I8), and no lost or
// spurious bumps under parallel writers (I2, I4).
#include <algorithm>
#include <array>
#include <atomic>
#include <sstream>

#include "harness.hpp"
#include "writers.hpp"

namespace fcit {
namespace {

class Concurrency : public IntegrationTest {};

// I6: once COMMIT has returned in session A, session B sees the new version.
TEST_F(Concurrency, ReadYourWritesAcrossSessions) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string tenant = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, '" + tenant + "', 0)");

    auto a = connect();
    auto b = connect();
    const int kIterations = 200;
    int stale = 0, stale_all = 0;
    std::ostringstream first_failures;
    for (int i = 0; i < kIterations; i++) {
        // Odd iterations read through current_versions(), even ones through
        // current_version().
        auto read = [&](const std::string &who) {
            return i % 2 ? versions(*b, who, {d})[0] : version(*b, who, d);
        };
        long long before = read(tenant);
        long long before_all = read(kAllTenants);
        if (i % 3 == 0) {
            pqxx::work tx(*a);
            tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = 1");
            tx.commit();
        } else {
            exec(*a, "UPDATE " + t + " SET val = val + 1 WHERE id = 1");
        }
        long long after = read(tenant);
        long long after_all = read(kAllTenants);
        if (after <= before) {
            if (stale < 5)
                first_failures << " [iteration " << i << ": " << before << " -> " << after << "]";
            stale++;
        }
        if (after_all <= before_all)
            stale_all++;
    }
    EXPECT_EQ(stale, 0) << "session B did not see session A's committed bump:"
                        << first_failures.str();
    EXPECT_EQ(stale_all, 0) << "all-tenants pair not bumped at COMMIT";
}

// I8: a writer whose transaction is open (its row locks held, its bumps
// pending) never makes another writer of the same (tenant, domain) wait, and
// the other writer's bump is published while the first is still open.
TEST_F(Concurrency, WritersOfTheSamePairDoNotBlockEachOther) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string tenant = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, '" + tenant + "', 0), (2, '" + tenant + "', 0)");
    const long long before = version(*conn_, tenant, d);
    const long long before_all = version(*conn_, kAllTenants, d);

    auto a = connect();
    auto b = connect();
    exec(*b, "SET statement_timeout = '2s'");
    {
        pqxx::work txa(*a);
        txa.exec("UPDATE " + t + " SET val = val + 1 WHERE id = 1");
        txa.exec("INSERT INTO " + t + " VALUES (3, '" + tenant + "', 0)");

        const auto t0 = Clock::now();
        std::string error;
        try {
            pqxx::work txb(*b);
            txb.exec("UPDATE " + t + " SET val = val + 1 WHERE id = 2");
            txb.exec("INSERT INTO " + t + " VALUES (4, '" + tenant + "', 0)");
            txb.commit();
        } catch (const std::exception &e) {
            error = e.what();
        }
        const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
        EXPECT_EQ(error, "") << "writer B failed while A's transaction was open (blocked?)";
        EXPECT_LT(elapsed.count(), 1000)
            << "writer B took " << elapsed.count() << " ms while A's transaction was open";
        // B's bump is published although A is still open (and holds its
        // pending pair for the same tenant and domain).
        EXPECT_EQ(version(*conn_, tenant, d), before + 1) << "B's commit, A still open";
        EXPECT_EQ(version(*conn_, kAllTenants, d), before_all + 1);
        EXPECT_EQ(query_ll(*conn_,
                           "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s "
                           "USING (pid) WHERE NOT l.granted AND s.datname = "
                           "current_database()"),
                  0)
            << "nobody may be waiting for a lock";
        txa.commit();
    }
    EXPECT_EQ(version(*conn_, tenant, d), before + 2) << "A's commit";
    EXPECT_EQ(version(*conn_, kAllTenants, d), before_all + 2);
}

// N writers, 200 single-row transactions each, over 3 shared tenants.
//
// A version counts committed transactions: the worker coalesces a batch
// into one step per pair, but the step is the number of transactions it
// carries. Asserted:
//   - every committing session reads, right after COMMIT, a version strictly
//     greater than the one it read before the transaction (I2/I6);
//   - each tenant pair moved by exactly the number of commits touching it,
//     the all-tenants pair by the total (none lost, none doubled, I4);
//   - domain_version equals current_version() afterwards.
TEST_F(Concurrency, ParallelWritersLoseNoBump) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    constexpr int kThreads = 4, kTenants = 3, kTxns = 200;
    std::array<std::string, kTenants> tenants;
    for (auto &x : tenants)
        x = new_uuid();
    // Each thread updates its own row per tenant (no row-lock waits needed
    // for the test to mean something, but same (tenant, domain) pairs).
    {
        std::string values;
        for (int k = 0; k < kThreads; k++)
            for (int j = 0; j < kTenants; j++)
                values += std::string(values.empty() ? "" : ", ") + "(" +
                          std::to_string(k * 10 + j) + ", '" + tenants[j] + "', 0)";
        exec(*conn_, "INSERT INTO " + t + " VALUES " + values);
    }
    std::array<long long, kTenants> before{};
    for (int j = 0; j < kTenants; j++)
        before[j] = version(*conn_, tenants[j], d);
    const long long before_all = version(*conn_, kAllTenants, d);

    std::array<std::array<int, kTenants>, kThreads> committed{};
    std::atomic<int> not_read_back{0};
    WriterThreads::Options options;
    options.threads = kThreads;
    options.iterations = kTxns;
    options.deadline = Clock::now() + seconds(60);
    WriterThreads threads(options, [&](WriterThreads::Turn &w) {
        const int k = w.thread;
        const int j = int((k + w.iteration) % kTenants);
        long long v0 = version(w.conn, tenants[j], d);
        {
            pqxx::work tx(w.conn);
            tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = " + std::to_string(k * 10 + j));
            tx.commit();
        }
        w.committed();
        committed[k][j]++;
        // Per transaction: the committer sees its own bump.
        if (version(w.conn, tenants[j], d) <= v0)
            not_read_back++;
    });
    threads.wait();
    EXPECT_EQ(threads.failures(), 0) << threads.first_failure();
    EXPECT_EQ(not_read_back.load(), 0) << "commits whose bump their own session did not see";

    long long total = 0;
    long long max_delta = 0;
    for (int j = 0; j < kTenants; j++) {
        long long n = 0;
        for (int k = 0; k < kThreads; k++)
            n += committed[k][j];
        total += n;
        long long delta = version(*conn_, tenants[j], d) - before[j];
        max_delta = std::max(max_delta, delta);
        EXPECT_EQ(delta, n) << "tenant " << j << ": version step vs committed transactions";
        EXPECT_EQ(persisted_version(*conn_, tenants[j], d), version(*conn_, tenants[j], d));
        RecordProperty("tenant" + std::to_string(j) + "_commits", int(n));
        RecordProperty("tenant" + std::to_string(j) + "_bumps", int(delta));
    }
    EXPECT_EQ(total, kThreads * kTxns) << "not every transaction ran before the deadline";
    long long delta_all = version(*conn_, kAllTenants, d) - before_all;
    EXPECT_GE(delta_all, max_delta) << "all-tenants pair";
    EXPECT_EQ(delta_all, total) << "all-tenants pair: one step per committed transaction";
    EXPECT_EQ(persisted_version(*conn_, kAllTenants, d), version(*conn_, kAllTenants, d));
}

// One writer at a time, 200 transactions over 3 tenants: COMMIT waits until
// its own bump is published, so nothing can coalesce and every commit is
// exactly one bump of its tenant and of the all-tenants pair.
TEST_F(Concurrency, SequentialWritersBumpOncePerCommit) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    constexpr int kTenants = 3, kTxns = 200;
    std::array<std::string, kTenants> tenants;
    std::string values;
    for (int j = 0; j < kTenants; j++) {
        tenants[j] = new_uuid();
        values +=
            std::string(j ? ", " : "") + "(" + std::to_string(j) + ", '" + tenants[j] + "', 0)";
    }
    exec(*conn_, "INSERT INTO " + t + " VALUES " + values);
    std::array<long long, kTenants> before{};
    for (int j = 0; j < kTenants; j++)
        before[j] = version(*conn_, tenants[j], d);
    const long long before_all = version(*conn_, kAllTenants, d);

    // Two sessions take turns, so it is not one backend's local state either.
    auto a = connect();
    auto b = connect();
    std::array<int, kTenants> committed{};
    for (int i = 0; i < kTxns; i++) {
        const int j = (i * 7 + i / 5) % kTenants;
        exec(i % 2 ? *a : *b, "UPDATE " + t + " SET val = val + 1 WHERE id = " + std::to_string(j));
        committed[j]++;
    }
    for (int j = 0; j < kTenants; j++)
        EXPECT_EQ(version(*conn_, tenants[j], d) - before[j], committed[j]) << "tenant " << j;
    EXPECT_EQ(version(*conn_, kAllTenants, d) - before_all, kTxns);
}

}  // namespace
}  // namespace fcit
