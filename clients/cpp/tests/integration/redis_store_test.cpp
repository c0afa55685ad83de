// RedisStore against a real redis-server, and two VersionedCaches (two
// "processes", each with its own watcher and Redis connection) sharing it.
#include <cstdlib>

#include <hiredis/hiredis.h>

#include "client_env.hpp"
#include "fraiseql_cache/client/redis_store.hpp"
#include "fraiseql_cache/client/version_watcher.hpp"
#include "fraiseql_cache/client/versioned_cache.hpp"

namespace fcct {
namespace {

namespace fc = fraiseql_cache::client;

fc::RedisOptions redis_options(const std::string &prefix) {
    fc::RedisOptions o;
    o.host = redis_host();
    o.port = redis_port();
    o.key_prefix = prefix;
    o.ttl = seconds(600);
    return o;
}

#define REQUIRE_REDIS()                                                                      \
    do {                                                                                     \
        if (!redis_configured()) {                                                           \
            if (std::getenv("FRAISEQL_SKIP_REDIS"))                                          \
                GTEST_SKIP() << "FRAISEQL_SKIP_REDIS set";                                   \
            FAIL() << "FRAISEQL_REDIS_PORT is not set (scripts/test_clients.sh starts Redis)"; \
        }                                                                                    \
    } while (0)

// The remaining TTL of a raw key, through a connection of the test's own.
long long ttl_of(const std::string &key) {
    redisContext *c = redisConnect(redis_host().c_str(), redis_port());
    if (!c || c->err)
        return -100;
    auto *r = static_cast<redisReply *>(redisCommand(c, "TTL %b", key.data(), key.size()));
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -100;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return v;
}

TEST(RedisStore, StoresReplacesExpiresAndErases) {
    REQUIRE_REDIS();
    const std::string prefix = "fc_test_" + random_hex(8) + ":";
    fc::RedisStore s(redis_options(prefix));
    EXPECT_FALSE(s.get("k").has_value());
    fc::StoredEntry e{{"contract", "item"}, {3, 4}, std::string("bin\0ary", 7)};
    s.put("k", e);
    auto back = s.get("k");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, e);
    long long ttl = ttl_of(prefix + "k");
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 600);
    e.versions = {5, 4};
    s.put("k", e);
    EXPECT_EQ(s.get("k")->versions, (std::vector<fc::Version>{5, 4}));
    s.erase("k");
    EXPECT_FALSE(s.get("k").has_value());
}

TEST(RedisStore, UnreachableServerIsAStoreError) {
    fc::RedisOptions o;
    o.port = 1;
    o.connect_timeout = milliseconds(200);
    fc::RedisStore s(o);
    EXPECT_THROW(s.get("k"), fc::StoreError);
    EXPECT_THROW(s.put("k", fc::StoredEntry{}), fc::StoreError);
}

class SharedRedis : public ClientTest {};

TEST_F(SharedRedis, TwoProcessesShareEntriesAndBothSeeAnUpdate) {
    REQUIRE_REDIS();
    std::string t = make_table("redis");
    std::string d = domain_of(t);
    std::string tenant = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " (id, tenant_id, val) VALUES (1, '" + tenant + "', 10)");
    const std::string prefix = "fc_test_" + random_hex(8) + ":";

    fc::WatcherOptions wo;
    wo.conninfo = conninfo();
    fc::VersionWatcher wa(wo), wb(wo);
    ASSERT_TRUE(wa.wait_until_healthy(seconds(20))) << wa.last_error();
    ASSERT_TRUE(wb.wait_until_healthy(seconds(20))) << wb.last_error();
    fc::RedisStore sa(redis_options(prefix)), sb(redis_options(prefix));
    fc::VersionedCache<std::string> a(wa, sa, "rows"), b(wb, sb, "rows");
    auto db = connect();
    int computes = 0;
    auto compute = [&] {
        computes++;
        return std::to_string(query_ll(*db, "SELECT val FROM " + t + " WHERE id = 1"));
    };

    auto r1 = a.fetch("row1", tenant, {d}, compute);
    EXPECT_EQ(r1.outcome, fc::CacheOutcome::Miss);
    auto r2 = b.fetch("row1", tenant, {d}, compute);
    EXPECT_EQ(r2.outcome, fc::CacheOutcome::Hit) << "process B must reuse A's entry";
    EXPECT_EQ(r2.value, "10");
    EXPECT_EQ(computes, 1);

    auto other = connect();  // an update from another connection
    exec(*other, "UPDATE " + t + " SET val = 11 WHERE id = 1");
    long long v = version(*other, tenant, d);
    ASSERT_TRUE(wait_until([&] { return wa.versions(tenant, {d})[0] == v && wb.versions(tenant, {d})[0] == v; },
                           seconds(10)));
    auto r3 = b.fetch("row1", tenant, {d}, compute);
    EXPECT_EQ(r3.outcome, fc::CacheOutcome::Miss);
    EXPECT_EQ(r3.value, "11");
    auto r4 = a.fetch("row1", tenant, {d}, compute);
    EXPECT_EQ(r4.outcome, fc::CacheOutcome::Hit) << "A reuses the entry B refreshed";
    EXPECT_EQ(r4.value, "11");
    EXPECT_EQ(b.counters().refused_stale, 1u);
}

}  // namespace
}  // namespace fcct
