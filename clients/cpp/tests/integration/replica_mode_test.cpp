// VersionWatcher in replica mode against one real server, which is then its
// own "replica" (a server that is not in recovery: its insert position
// counts as replayed). The standby itself is exercised by
// tests/replica_client/ (scripts/test_replica_client.sh).
#include "client_env.hpp"
#include "fraiseql_cache/client/version_watcher.hpp"

namespace fcct {
namespace {

namespace fc = fraiseql_cache::client;

fc::WatcherOptions replica_options(bool exact) {
    fc::WatcherOptions o;
    o.conninfo = conninfo();
    o.replica_conninfo = conninfo();
    o.exact_lookups = exact;
    return o;
}

class ReplicaMode : public ClientTest {};

TEST_F(ReplicaMode, GatesNotificationsAndFollowsThem) {
    std::string t = make_table("replica");
    std::string d = domain_of(t);
    std::string tenant = new_uuid();
    fc::VersionWatcher w(replica_options(false));
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    EXPECT_EQ(w.versions(tenant, {d}), std::vector<fc::Version>{version(*conn_, tenant, d)});
    exec(*conn_, "INSERT INTO " + t + " (id, tenant_id) VALUES (1, '" + tenant + "')");
    long long after = version(*conn_, tenant, d);
    EXPECT_TRUE(wait_until([&] { return w.versions(tenant, {d})[0] == after; }, seconds(10)))
        << "local " << w.versions(tenant, {d})[0] << ", server " << after;
    fc::WatcherCounters c = w.counters();
    EXPECT_GE(c.gated, 1u) << "the notification went through the gate";
    EXPECT_GE(c.replay_polls, 1u);
    EXPECT_EQ(c.failovers, 0u);
}

// Exact lookups: once COMMIT has returned (wait_for_bump = on), the next
// lookup already answers with its bump, every time, with no query of its own.
TEST_F(ReplicaMode, ExactLookupsSeeEveryReturnedCommit) {
    std::string t = make_table("exact");
    std::string d = domain_of(t);
    std::string tenant = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " (id, tenant_id, val) VALUES (1, '" + tenant + "', 0)");
    fc::VersionWatcher w(replica_options(true));
    ASSERT_TRUE(w.wait_until_healthy(seconds(20))) << w.last_error();
    w.versions(tenant, {d});
    const std::uint64_t first_reads = w.counters().first_reads;
    int behind = 0;
    for (int i = 1; i <= 50; i++) {
        exec(*conn_, "UPDATE " + t + " SET val = " + std::to_string(i));
        long long server = version(*conn_, tenant, d);
        if (w.versions(tenant, {d})[0] != server)
            behind++;
    }
    EXPECT_EQ(behind, 0) << "lookups right after COMMIT returned missed its bump";
    EXPECT_EQ(w.counters().first_reads, first_reads) << "answered from the map";
    EXPECT_EQ(w.counters().sql_fallbacks, 0u);
    EXPECT_GE(w.counters().lookup_waits, 50u);
}

TEST(ReplicaModeOptions, RefusesANonPositivePollInterval) {
    fc::WatcherOptions o = replica_options(false);
    o.replay_poll_interval = std::chrono::milliseconds(0);
    EXPECT_THROW(fc::VersionWatcher w(o), std::invalid_argument);
}

}  // namespace
}  // namespace fcct
