// NOTIFY settings (suite Notify): notify_format = array, notify = off and
// notify_channel, changed with ALTER SYSTEM + reload for one test and put
// back by the fixture. The fixture: notify_fixture.hpp.
#include <set>
#include <string>

#include "notify_fixture.hpp"

namespace fcit {
namespace {

// (c) notify_format = array: 400 tenants in one transaction are announced
// in several arrays, each payload under 8000 bytes, together exactly the
// 401 bumped pairs with their committed versions.
TEST_F(Notify, ArrayFormatSplitsPayloadsUnder8000Bytes) {
    NotifyMode array_mode = baseline_;
    array_mode.array = true;
    ASSERT_EQ(change_settings({{"fraiseql_cache.notify_format", "array"}}, array_mode), "");

    std::string t = make_table("");
    std::string d = domain_of(t);
    settle();
    exec(*conn_, "INSERT INTO " + t +
                     " SELECT g, gen_random_uuid() FROM generate_series(1, 400) g");
    std::map<PairKey, long long> after;
    {
        pqxx::nontransaction tx(*conn_);
        pqxx::result r = tx.exec_params(
            "SELECT tenant_id::text, fraiseql_cache.current_version(tenant_id, $1) FROM ("
            "  SELECT tenant_id FROM " + t + " UNION ALL SELECT $2::uuid) s",
            d, std::string(kAllTenants));
        for (const auto &row : r)
            after[{row[0].as<std::string>(), d}] = row[1].as<long long>();
    }
    ASSERT_EQ(after.size(), 401u);
    std::set<PairKey> pairs;
    for (const auto &entry : after)
        pairs.insert(entry.first);

    ASSERT_TRUE(wait_for_pairs({d}, pairs, seconds(20)))
        << "not every pair was announced within 20 s";
    expect_exactly({d}, after, "400-tenant INSERT, array format");

    std::set<const Note *> carrying;
    std::size_t bytes = 0;
    for (const Seen &s : announced({d}))
        carrying.insert(s.note);
    for (const Note &n : listener_->notes()) {
        EXPECT_LT(n.payload.size(), 8000u) << "payload over the limit";
        EXPECT_TRUE(n.array) << "format array: " << n.payload.substr(0, 200);
        EXPECT_EQ(n.channel, baseline_.channel);
        EXPECT_EQ(n.payload.front(), '[');
        EXPECT_EQ(n.payload.back(), ']');
    }
    for (const Note *n : carrying)
        bytes += n->payload.size();
    EXPECT_GE(carrying.size(), 2u) << "401 announcements (" << bytes
                                   << " bytes) cannot fit in one payload";
    // Packed, not one object per array: no payload carrying the domain is
    // less than half full, except the last of the batch.
    std::size_t small = 0;
    for (const Note *n : carrying)
        small += n->payload.size() < 4000 ? 1 : 0;
    EXPECT_LE(small, 1u) << "arrays are not packed";
}

// (e) notify = off: a commit bumps, and nothing is announced.
TEST_F(Notify, NotifyOffSilencesAnnouncements) {
    std::string t = make_table("");
    std::string d = domain_of(t);
    std::string a = new_uuid();
    NotifyMode off = baseline_;
    off.on = false;
    ASSERT_EQ(change_settings({{"fraiseql_cache.notify", "off"}}, off), "");
    long long notifies_before = query_ll(*conn_, "SELECT notifies FROM fraiseql_cache.stats()");
    long long v0 = version(*conn_, a, d);
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    long long v1 = version(*conn_, a, d);
    EXPECT_EQ(v1, v0 + 1) << "notify = off still bumps";
    listener_->collect_for(milliseconds(700));
    for (const Note &n : listener_->notes())
        ADD_FAILURE() << "notification with notify = off: " << n.payload;
    EXPECT_EQ(query_ll(*conn_, "SELECT notifies FROM fraiseql_cache.stats()"), notifies_before)
        << "stats().notifies counted notifications with notify = off";

    // Back on: announced again, with the version after commit.
    ASSERT_EQ(restore_settings(), "");
    settle();
    exec(*conn_, "UPDATE " + t + " SET val = 1");
    std::set<PairKey> pairs{{a, d}, {kAllTenants, d}};
    std::map<PairKey, long long> after = current(pairs);
    EXPECT_EQ(after[PairKey(a, d)], v1 + 1);
    ASSERT_TRUE(wait_for_pairs({d}, pairs));
    expect_exactly({d}, after, "after notify is back on");
}

// notify_channel: announcements follow the channel the setting names.
TEST_F(Notify, ChannelFollowsTheSetting) {
    std::string t = make_table("");
    std::string d = domain_of(t);
    NotifyMode moved = baseline_;
    moved.channel = "fc_it_channel_" + random_hex(8);
    ASSERT_EQ(change_settings({{"fraiseql_cache.notify_channel", moved.channel}}, moved), "");
    settle();
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    std::set<PairKey> pairs{{a, d}, {kAllTenants, d}};
    std::map<PairKey, long long> after = current(pairs);
    ASSERT_TRUE(wait_for_pairs({d}, pairs));
    expect_exactly({d}, after, "announced on the new channel");
    for (const Seen &s : announced({d}))
        EXPECT_EQ(s.note->channel, moved.channel);
}

}  // namespace
}  // namespace fcit
