// NOTIFY payloads (suites NotifyPayloadParser, Notify): the JSON checker
// itself; what one commit announces, exactly once per pair, with the
// committed version; domain names that need escaping; nothing for a
// rolled-back transaction. The fixture: notify_fixture.hpp.
#include <set>
#include <stdexcept>
#include <string>

#include "notify_fixture.hpp"
#include "notify_json.hpp"

namespace fcit {
namespace {

TEST(NotifyPayloadParser, AcceptsValidAndRejectsInvalidJson) {
    JsonValue v = JsonParser::parse(
        " {\"a\": [1, -2.5e3, true, false, null], "
        "\"b\": \"x\\\"\\\\\\/\\n\\u20ac\\ud83d\\ude00\xe2\x82\xac\"} ");
    ASSERT_EQ(v.kind, JsonValue::Kind::kObject);
    ASSERT_EQ(v.members.size(), 2u);
    EXPECT_EQ(v.members[0].second.items.size(), 5u);
    EXPECT_EQ(v.members[1].second.text, "x\"\\/\n\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x82\xac");

    for (const char *bad :
         {"", "{", "{\"a\" 1}", "{\"a\": 1,}", "[1,]", "\"unterminated", "\"raw\ttab\"",
          "\"bad \\x escape\"", "\"lone \\ud800\"", "\"lone \\udc00\"", "01", "1.", "-", "+1",
          "\"\xc3\x28\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "{} {}", "tru", "[1] x"})
        EXPECT_THROW(JsonParser::parse(bad), std::runtime_error) << "accepted: " << bad;

    Note ok = decode_note(
        "c", "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
             "\"version\": 43, \"lsn\": \"0/16B3748\"}",
        1);
    EXPECT_EQ(ok.error, "");
    ASSERT_EQ(ok.announcements.size(), 1u);
    EXPECT_EQ(ok.announcements[0].version, 43);
    EXPECT_EQ(object_text(ok.announcements[0]), ok.payload);
    for (const char *bad :
         {"{\"domain\": \"d\", \"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", "
          "\"version\": 1}",
          "{\"tenant_id\": \"not-a-uuid\", \"domain\": \"d\", \"version\": 1}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"version\": \"1\"}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"version\": 1.5}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\"}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"version\": 1}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"version\": 1, \"lsn\": \"0/16b3748\"}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"lsn\": \"0/1\", \"version\": 1}",
          "[]"})
        EXPECT_NE(decode_note("c", bad, 1).error, "") << "accepted: " << bad;
}

// (a) One UPDATE over three tenants: four notifications (each tenant and the
// all-tenants pair), each with the version current_version() shows after
// the commit, each once, as one object per payload, sent by the worker.
TEST_F(Notify, OneUpdateOverThreeTenantsAnnouncesFourPairsOnce) {
    std::string t = make_table("");
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid(), c = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " SELECT g, (ARRAY[" + uuid_lit(a) + ", " + uuid_lit(b) +
                     ", " + uuid_lit(c) + "])[1 + g % 3] FROM generate_series(1, 3000) g");
    settle();
    std::set<PairKey> pairs{{a, d}, {b, d}, {c, d}, {kAllTenants, d}};
    std::map<PairKey, long long> before = current(pairs);

    {
        pqxx::work tx(*conn_);
        EXPECT_EQ(tx.exec("UPDATE " + t + " SET val = val + 1").affected_rows(), 3000u);
        tx.commit();
    }
    std::map<PairKey, long long> after = current(pairs);
    for (const PairKey &k : pairs)
        EXPECT_EQ(after[k], before[k] + 1) << "(" << k.first << ", " << d << ") bumped once";

    ASSERT_TRUE(wait_for_pairs({d}, pairs)) << "not every pair was announced within 15 s";
    expect_exactly({d}, after, "3000-row UPDATE over 3 tenants");

    const int worker = worker_pid(*conn_);
    for (const Seen &s : announced({d})) {
        EXPECT_FALSE(s.note->array) << "format object: one announcement per notification";
        EXPECT_EQ(s.note->announcements.size(), 1u);
        EXPECT_EQ(s.note->payload, object_text(s.a)) << "the payload's exact text";
        EXPECT_EQ(s.note->channel, baseline_.channel);
        EXPECT_EQ(s.note->pid, worker) << "notifications come from the worker, not the writer";
    }
    if (query_str(*conn_, "SELECT source FROM pg_settings WHERE name = "
                          "'fraiseql_cache.notify_channel'") == "default") {
        EXPECT_EQ(baseline_.channel, "cache_invalidation") << "the documented default channel";
    }
}

// (b) A domain name that needs escaping arrives as valid JSON that decodes
// to the exact name.
TEST_F(Notify, DomainNeedingEscapesArrivesAsValidJson) {
    // we"ird\dom€, unique per run
    const std::string domain = "we\"ird\\dom\xe2\x82\xac_" + random_hex(8);
    std::string t = make_table("esc", domain.c_str());
    settle();
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    std::set<PairKey> pairs{{a, domain}, {kAllTenants, domain}};
    std::map<PairKey, long long> after = current(pairs);

    ASSERT_TRUE(wait_for_pairs({domain}, pairs))
        << "the escaped domain was not announced (or not decoded to the same bytes)";
    expect_exactly({domain}, after, "INSERT into a table whose domain needs escaping");
    for (const Seen &s : announced({domain})) {
        EXPECT_EQ(s.a.domain, domain);
        EXPECT_NE(s.note->payload.find("\\\""), std::string::npos) << s.note->payload;
        EXPECT_NE(s.note->payload.find("\\\\"), std::string::npos) << s.note->payload;
    }
}

// Control characters in a domain name are escaped too (a raw one would make
// the payload invalid JSON).
TEST_F(Notify, DomainWithControlCharactersArrivesAsValidJson) {
    const std::string domain = std::string("tab\there nl\ncr\rctl\x01") + "/end_" + random_hex(8);
    std::string t = make_table("ctl", domain.c_str());
    settle();
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    std::set<PairKey> pairs{{a, domain}, {kAllTenants, domain}};
    std::map<PairKey, long long> after = current(pairs);
    ASSERT_TRUE(wait_for_pairs({domain}, pairs)) << "the domain was not announced";
    expect_exactly({domain}, after, "INSERT into a table whose domain has control characters");
}

// The bumps of DDL on a tracked table (ALTER TABLE bumps its domain) and of
// the registration name the table's real domain, also when it needs escaping.
// The registration and the DDL hook read the domain back from
// pg_trigger.tgargs: a name with a backslash or non-ASCII bytes must come
// back exactly, or ALTER TABLE would bump a phantom domain.
TEST_F(Notify, DomainNeedingEscapesIsRegisteredAndBumpedByDdlUnderItsOwnName) {
    const std::string prefix = "caf\xe2\x82\xac\\";
    const std::string domain = prefix + random_hex(8);  // caf€\<hex>
    std::string t = make_table("ddl", domain.c_str());
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    barrier();
    EXPECT_EQ(query_str(*conn_, "SELECT domain FROM fraiseql_cache.tracked_tables WHERE "
                                "table_name = " + conn_->quote(t)),
              domain);
    auto expect_no_phantom = [&](const std::string &step) {
        for (const Note &n : listener_->notes())
            for (const Announcement &a2 : n.announcements)
                if (a2.domain != domain && a2.domain.rfind("caf", 0) == 0 &&
                    a2.domain.find(domain.substr(domain.size() - 8)) != std::string::npos)
                    ADD_FAILURE() << step << ": announced a domain that is not the table's: "
                                  << object_text(a2);
    };
    expect_no_phantom("setup_table_invalidation");
    listener_->clear();

    std::set<PairKey> pairs{{a, domain}, {kAllTenants, domain}};
    std::map<PairKey, long long> before = current(pairs);
    exec(*conn_, "ALTER TABLE " + t + " ADD COLUMN extra int DEFAULT 5");
    std::map<PairKey, long long> after = current(pairs);
    for (const PairKey &k : pairs)
        EXPECT_EQ(after[k], before[k] + 1)
            << "ALTER TABLE bumps (" << k.first << ", " << k.second << ")";
    wait_for_pairs({domain}, pairs, seconds(5));
    expect_exactly({domain}, after, "ALTER TABLE");
    expect_no_phantom("ALTER TABLE");
}

// (f) A rolled-back transaction, or one ended by an error, announces
// nothing (and bumps nothing).
TEST_F(Notify, RolledBackTransactionAnnouncesNothing) {
    std::string t = make_table("");
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid(), c = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    settle();
    std::set<PairKey> pairs{{a, d}, {b, d}, {c, d}, {kAllTenants, d}};
    std::map<PairKey, long long> before = current(pairs);

    {
        pqxx::work tx(*conn_);
        tx.exec("UPDATE " + t + " SET val = val + 1");
        tx.exec("INSERT INTO " + t + " VALUES (2, " + uuid_lit(b) + ")");
        tx.exec("SELECT fraiseql_cache.invalidate(" + uuid_lit(c) + ", " + conn_->quote(d) + ")");
        tx.abort();
    }
    {
        pqxx::work tx(*conn_);
        tx.exec("DELETE FROM " + t);
        EXPECT_THROW(tx.exec("SELECT 1 / 0"), pqxx::sql_error);
        // libpqxx aborts the transaction when it goes out of scope.
    }
    // Barrier: once a later commit is announced, anything from the rolled
    // back ones would have been announced before it.
    std::string probe = probe_write();
    bool announced_probe = listener_->wait_for(
        [&] { return find_note(probe, shape_domain_) != nullptr; }, seconds(10));
    ASSERT_TRUE(announced_probe) << "the barrier write was not announced";
    listener_->collect_for(milliseconds(200));
    for (const Seen &s : announced({d}))
        ADD_FAILURE() << "announced after a rollback: " << object_text(s.a);
    EXPECT_EQ(current(pairs), before) << "a rolled-back transaction bumped";
}

}  // namespace
}  // namespace fcit
