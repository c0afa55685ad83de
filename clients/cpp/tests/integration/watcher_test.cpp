// VersionWatcher against a real server: local answers, reconnects after
// pg_terminate_backend without ever serving what a missed notification
// would have invalidated, read-your-writes through refresh(), global
// domains, heartbeats, the array payload format.
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "client_env.hpp"
#include "fraiseql_cache/client/lru_store.hpp"
#include "fraiseql_cache/client/version_watcher.hpp"
#include "fraiseql_cache/client/versioned_cache.hpp"

namespace fcct {
namespace {

namespace fc = fraiseql_cache::client;

fc::WatcherOptions options() {
    fc::WatcherOptions o;
    o.conninfo = conninfo();
    return o;
}

class Watcher : public ClientTest {
  protected:
    // SELECT val of row `id`, as the value a cache stores.
    std::string read_val(pqxx::connection &c, const std::string &table, int id) {
        return std::to_string(query_ll(c, "SELECT val FROM " + table + " WHERE id = " + std::to_string(id)));
    }
};

TEST_F(Watcher, AnswersLocallyAndFollowsNotifications) {
    std::string t = make_table("local");
    std::string d = domain_of(t);
    std::string tenant = new_uuid();
    fc::VersionWatcher w(options());
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    EXPECT_GT(w.listener_pid(), 0);

    long long sql = version(*conn_, tenant, d);
    EXPECT_EQ(w.versions(tenant, {d}), std::vector<fc::Version>{sql});
    EXPECT_EQ(w.counters().first_reads, 1u);
    for (int i = 0; i < 100; i++)
        ASSERT_EQ(w.versions(tenant, {d}), std::vector<fc::Version>{sql});
    EXPECT_EQ(w.counters().first_reads, 1u) << "a held pair needs no round trip";
    EXPECT_GE(w.counters().local_lookups, 100u);

    exec(*conn_, "INSERT INTO " + t + " (id, tenant_id) VALUES (1, '" + tenant + "')");
    long long after = version(*conn_, tenant, d);
    ASSERT_GT(after, sql);
    EXPECT_TRUE(wait_until([&] { return w.versions(tenant, {d})[0] == after; }, seconds(10)))
        << "the notification was not applied: local " << w.versions(tenant, {d})[0] << ", server "
        << after;
    EXPECT_GE(w.counters().notifications, 1u);
    EXPECT_EQ(w.counters().first_reads, 1u);
    // Another tenant's write does not move this tenant's version.
    exec(*conn_, "INSERT INTO " + t + " (id, tenant_id) VALUES (2, '" + new_uuid() + "')");
    EXPECT_TRUE(wait_until([&] { return w.versions(fc::kAllTenants, {d})[0] == version(*conn_, fc::kAllTenants, d); },
                           seconds(10)));
    EXPECT_EQ(w.versions(tenant, {d})[0], after);
}

// The core promise: a notification sent while the listener was terminated
// is lost, yet no stale value is served, neither while reconnecting (the
// watcher answers over SQL) nor after (the reload runs after LISTEN).
TEST_F(Watcher, NotificationMissedWhileTerminatedIsNeverServedStale) {
    std::string t = make_table("missed");
    std::string d = domain_of(t);
    std::string tenant = new_uuid(), quiet = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " (id, tenant_id, val) VALUES (1, '" + tenant +
                     "', 0), (2, '" + quiet + "', 0)");
    fc::WatcherOptions o = options();
    o.reconnect_initial = milliseconds(2500);  // a wide window with no listener
    o.reconnect_max = milliseconds(2500);
    fc::VersionWatcher w(o);
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    fc::LruStore store(100);
    fc::VersionedCache<std::string> cache(w, store);
    auto reader = connect();
    auto value = [&](const std::string &tn, int id) {
        return cache.fetch("row" + std::to_string(id), tn, {d}, [&] { return read_val(*reader, t, id); });
    };

    for (int round = 1; round <= 3; round++) {
        SCOPED_TRACE("round " + std::to_string(round));
        // Both entries cached and hit.
        value(tenant, 1);
        value(quiet, 2);
        ASSERT_EQ(value(tenant, 1).outcome, fc::CacheOutcome::Hit);
        ASSERT_EQ(value(quiet, 2).outcome, fc::CacheOutcome::Hit);
        const auto connects = w.counters().connects;

        int pid = w.listener_pid();
        ASSERT_TRUE(terminate_backend(*conn_, pid));
        ASSERT_TRUE(wait_until([&] { return !w.healthy(); }, seconds(10)))
            << "the watcher did not notice its listener was terminated";
        // Written while nobody listens: these notifications are lost.
        exec(*conn_, "UPDATE " + t + " SET val = " + std::to_string(round) + " WHERE id IN (1, 2)");
        const std::string fresh = std::to_string(round);
        ASSERT_FALSE(w.healthy()) << "reconnected too early for this test to mean anything";

        // While down: answered over SQL, so the change is seen.
        auto during = value(tenant, 1);
        EXPECT_EQ(during.value, fresh);
        EXPECT_NE(during.outcome, fc::CacheOutcome::Hit);
        EXPECT_GE(w.counters().sql_fallbacks, 1u);

        ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
        EXPECT_GT(w.counters().connects, connects);
        // Right after the reconnect, with no time for anything else: the
        // pair nobody looked up while the listener was down is current too.
        EXPECT_EQ(w.versions(quiet, {d})[0], version(*conn_, quiet, d));
        auto after_quiet = value(quiet, 2);
        EXPECT_EQ(after_quiet.value, fresh) << "stale value served after reconnect";
        EXPECT_NE(after_quiet.outcome, fc::CacheOutcome::Hit);
        auto after = value(tenant, 1);
        EXPECT_EQ(after.value, fresh);
        EXPECT_EQ(value(tenant, 1).outcome, fc::CacheOutcome::Hit) << "and cached again";
    }
}

// Writers keep bumping while the listener is terminated again and again:
// afterwards every held version converges to the server's, and no version
// ever went down.
TEST_F(Watcher, ConvergesAfterRepeatedTerminationsUnderLoad) {
    std::string t = make_table("storm");
    std::string d = domain_of(t);
    std::vector<std::string> tenants;
    for (int i = 0; i < 6; i++)
        tenants.push_back(new_uuid());
    for (std::size_t i = 0; i < tenants.size(); i++)
        exec(*conn_, "INSERT INTO " + t + " (id, tenant_id) VALUES (" + std::to_string(i) + ", '" +
                         tenants[i] + "')");
    fc::WatcherOptions o = options();
    o.reconnect_initial = milliseconds(5);
    o.reconnect_max = milliseconds(100);
    fc::VersionWatcher w(o);
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    std::mutex seen_mu;
    std::map<std::pair<std::string, std::string>, fc::Version> seen;
    std::atomic<int> decreases{0};
    w.on_update([&](const fc::VersionUpdate &u) {
        std::lock_guard<std::mutex> lock(seen_mu);
        auto &v = seen[{u.pair.tenant, u.pair.domain}];
        if (u.version < v)
            decreases++;
        v = u.version;
    });
    for (const auto &tn : tenants)
        w.versions(tn, {d});

    std::atomic<bool> stop{false};
    std::atomic<int> writes{0};
    std::vector<std::thread> writers;
    for (int k = 0; k < 2; k++)
        writers.emplace_back([&, k] {
            try {
                auto c = connect();
                std::mt19937 rng(unsigned(k) + 1);
                while (!stop.load()) {
                    int i = int(rng() % tenants.size());
                    exec(*c, "UPDATE " + t + " SET val = val + 1 WHERE id = " + std::to_string(i));
                    writes++;
                }
            } catch (const std::exception &e) {
                ADD_FAILURE() << "writer: " << e.what();
            }
        });
    std::atomic<int> lookups_failed{0};
    std::thread looker([&] {
        while (!stop.load()) {
            for (const auto &tn : tenants) {
                try {
                    w.versions(tn, {d});
                } catch (...) {
                    lookups_failed++;
                }
            }
        }
    });
    int terminated = 0;
    for (int i = 0; i < 6; i++) {
        ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
        std::this_thread::sleep_for(milliseconds(50 + 37 * i));
        if (terminate_backend(*conn_, w.listener_pid()))
            terminated++;
    }
    std::this_thread::sleep_for(milliseconds(100));
    stop = true;
    for (auto &th : writers)
        th.join();
    looker.join();

    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    EXPECT_GE(terminated, 4);
    EXPECT_GT(writes.load(), 20);
    EXPECT_EQ(lookups_failed.load(), 0);
    for (const auto &tn : tenants) {
        long long server = version(*conn_, tn, d);
        EXPECT_TRUE(wait_until([&] { return w.versions(tn, {d})[0] == server; }, seconds(10)))
            << "tenant " << tn << ": local " << w.versions(tn, {d})[0] << ", server " << server;
    }
    EXPECT_EQ(decreases.load(), 0);
    auto c = w.counters();
    EXPECT_GE(c.connects, 1u + unsigned(terminated));
    std::printf("[ storm ] %d writes, %d listener terminations, %llu reconnects, %llu loads, "
                "%llu notifications, %llu SQL fallbacks\n",
                writes.load(), terminated, (unsigned long long)c.connects - 1,
                (unsigned long long)c.loads, (unsigned long long)c.notifications,
                (unsigned long long)c.sql_fallbacks);
}

// refresh() after the caller's own COMMIT: the next cache check sees the
// write, every time, with no wait for the notification.
TEST_F(Watcher, RefreshGivesReadYourWrites) {
    std::string t = make_table("ryw");
    std::string d = domain_of(t);
    std::string tenant = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " (id, tenant_id, val) VALUES (1, '" + tenant + "', 0)");
    fc::VersionWatcher w(options());
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    fc::LruStore store(10);
    fc::VersionedCache<std::string> cache(w, store);
    auto writer = connect();
    auto reader = connect();
    int stale = 0, hits = 0;
    for (int i = 1; i <= 200; i++) {
        auto before = cache.fetch("row", tenant, {d}, [&] { return read_val(*reader, t, 1); });
        if (before.outcome == fc::CacheOutcome::Hit)
            hits++;
        exec(*writer, "UPDATE " + t + " SET val = " + std::to_string(i) + " WHERE id = 1");
        auto refreshed = w.refresh(tenant, {d});
        EXPECT_EQ(refreshed[0], w.versions(tenant, {d})[0]);
        auto r = cache.fetch("row", tenant, {d}, [&] { return read_val(*reader, t, 1); });
        if (r.value != std::to_string(i))
            stale++;
    }
    EXPECT_EQ(stale, 0) << "a value older than the caller's own committed write was served";
    EXPECT_GT(hits, 0) << "the cache was never hit: the test exercised nothing";
    EXPECT_EQ(w.counters().refreshes, 200u);
}

TEST_F(Watcher, GlobalDomainFollowsTheAllTenantsPair) {
    std::string t = make_table("global", /*global=*/true);
    std::string d = domain_of(t);
    std::string tenant = new_uuid();
    fc::VersionWatcher w(options());
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    long long before = w.versions(tenant, {d})[0];
    EXPECT_EQ(before, version(*conn_, tenant, d));
    exec(*conn_, "INSERT INTO " + t + " (id) VALUES (1)");
    long long after = version(*conn_, tenant, d);
    ASSERT_GT(after, before);
    EXPECT_TRUE(wait_until([&] { return w.versions(tenant, {d})[0] == after; }, seconds(10)))
        << "a global domain's bump did not reach a tenant's lookup";
    // Any other tenant: held under the all-tenants id, no new read.
    auto reads = w.counters().first_reads;
    EXPECT_EQ(w.versions(new_uuid(), {d})[0], after);
    EXPECT_EQ(w.counters().first_reads, reads);
}

TEST_F(Watcher, HeartbeatsCountAsLiveness) {
    fc::WatcherOptions o = options();
    o.channel = "fc_client_test_" + random_hex(6);  // a channel of its own
    fc::VersionWatcher w(o);
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    exec(*conn_, "NOTIFY " + o.channel + "_heartbeat, '{\"at\": \"now\", \"published\": 1}'");
    EXPECT_TRUE(wait_until([&] { return w.counters().heartbeats >= 1; }, seconds(10)));
    EXPECT_EQ(w.counters().notifications, 0u);
}

// The heartbeat's floor moves on a reset or after a crash, when every
// version moved without a notification per pair: the watcher reloads.
TEST_F(Watcher, HeartbeatFloorChangeForcesAReload) {
    fc::WatcherOptions o = options();
    o.channel = "fc_client_test_" + random_hex(6);
    fc::VersionWatcher w(o);
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    const std::string hb = "NOTIFY " + o.channel + "_heartbeat, ";
    const auto first_loads = w.counters().loads;
    exec(*conn_, hb + "'{\"at\": \"now\", \"published\": 1, \"floor\": 7}'");
    ASSERT_TRUE(wait_until([&] { return w.counters().heartbeats >= 1; }, seconds(10)));
    // The first floor heard counts as moved: the held pairs were read before it.
    ASSERT_TRUE(wait_until([&] { return w.counters().loads > first_loads; }, seconds(10)));
    auto loads = w.counters().loads;
    // Same floor: nothing to do.
    exec(*conn_, hb + "'{\"at\": \"now\", \"published\": 2, \"floor\": 7}'");
    ASSERT_TRUE(wait_until([&] { return w.counters().heartbeats >= 2; }, seconds(10)));
    std::this_thread::sleep_for(milliseconds(200));
    EXPECT_EQ(w.counters().loads, loads);
    // A new floor: reload.
    exec(*conn_, hb + "'{\"at\": \"now\", \"published\": 3, \"floor\": 16394}'");
    EXPECT_TRUE(wait_until([&] { return w.counters().loads > loads; }, seconds(10)));
}

TEST_F(Watcher, UnreadablePayloadForcesAReload) {
    fc::WatcherOptions o = options();
    o.channel = "fc_client_test_" + random_hex(6);
    fc::VersionWatcher w(o);
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    auto loads = w.counters().loads;
    exec(*conn_, "NOTIFY " + o.channel + ", 'not json'");
    EXPECT_TRUE(wait_until([&] { return w.counters().payload_errors == 1 && w.counters().loads > loads; },
                           seconds(10)));
    EXPECT_TRUE(w.healthy());
}

// fraiseql_cache.notify_format = array: many pairs per payload.
TEST_F(Watcher, ArrayPayloadsAreApplied) {
    std::string t = make_table("array");
    std::string d = domain_of(t);
    std::vector<std::string> tenants;
    for (int i = 0; i < 20; i++)
        tenants.push_back(new_uuid());
    struct Restore {
        pqxx::connection &c;
        ~Restore() {
            try {
                exec(c, "ALTER SYSTEM RESET fraiseql_cache.notify_format");
                exec(c, "SELECT pg_reload_conf()");
            } catch (...) {
            }
        }
    } restore{*conn_};
    exec(*conn_, "ALTER SYSTEM SET fraiseql_cache.notify_format = 'array'");
    exec(*conn_, "SELECT pg_reload_conf()");

    fc::VersionWatcher w(options());
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    for (const auto &tn : tenants)
        w.versions(tn, {d});
    // A raw listener to see what the worker sends.
    auto raw = connect();
    struct Raw : pqxx::notification_receiver {
        Raw(pqxx::connection &c) : pqxx::notification_receiver(c, "cache_invalidation") {}
        void operator()(const std::string &p, int) override { payloads.push_back(p); }
        std::vector<std::string> payloads;
    } rawr(*raw);

    // The worker re-reads its settings on SIGHUP, asynchronously: write
    // until a payload comes as an array.
    bool saw_array = false;
    for (int attempt = 0; attempt < 50 && !saw_array; attempt++) {
        std::string values;
        for (std::size_t i = 0; i < tenants.size(); i++)
            values += std::string(i ? "," : "") + "(" + std::to_string(attempt * 100 + int(i)) + ", '" +
                      tenants[i] + "', 0)";
        exec(*conn_, "INSERT INTO " + t + " (id, tenant_id, val) VALUES " + values);
        raw->await_notification(1, 0);
        raw->get_notifs();
        for (const auto &p : rawr.payloads)
            if (!p.empty() && p[0] == '[')
                saw_array = true;
        rawr.payloads.clear();
    }
    ASSERT_TRUE(saw_array) << "the worker never sent an array payload";
    for (const auto &tn : tenants) {
        long long server = version(*conn_, tn, d);
        EXPECT_TRUE(wait_until([&] { return w.versions(tn, {d})[0] == server; }, seconds(10)))
            << tn;
    }
    EXPECT_EQ(w.counters().payload_errors, 0u);
}

TEST_F(Watcher, UnreachableServerIsNeverHealthyAndCachesNothing) {
    fc::WatcherOptions o;
    o.conninfo = "host=127.0.0.1 port=1 connect_timeout=2";
    fc::VersionWatcher w(o);
    EXPECT_FALSE(w.wait_until_healthy(milliseconds(500)));
    EXPECT_THROW(w.versions(new_uuid(), {"contract"}), std::exception);
    fc::LruStore store(10);
    fc::VersionedCache<std::string> cache(w, store);
    auto r = cache.fetch("k", new_uuid(), {"contract"}, [] { return std::string("computed"); });
    EXPECT_EQ(r.outcome, fc::CacheOutcome::Uncached);
    EXPECT_EQ(store.size(), 0u);
    EXPECT_FALSE(w.last_error().empty());
    EXPECT_GE(w.counters().disconnects, 1u);
}

TEST_F(Watcher, StopFallsBackToSql) {
    std::string t = make_table("stop");
    std::string d = domain_of(t);
    std::string tenant = new_uuid();
    fc::VersionWatcher w(options());
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    w.versions(tenant, {d});
    w.stop();
    EXPECT_FALSE(w.healthy());
    exec(*conn_, "INSERT INTO " + t + " (id, tenant_id) VALUES (1, '" + tenant + "')");
    EXPECT_EQ(w.versions(tenant, {d})[0], version(*conn_, tenant, d));
}

}  // namespace
}  // namespace fcct
