// NOTIFY and cascade rules (suite Notify): a notify rule announces its target
// without bumping it, an invalidate rule bumps and announces; global targets.
// The fixture: notify_fixture.hpp.
#include <set>
#include <string>

#include "notify_fixture.hpp"

namespace fcit {
namespace {

// (d) A notify rule announces its target with the target's unchanged
// version; an invalidate rule bumps its target and announces the bump.
TEST_F(Notify, CascadeNotifyRuleAnnouncesWithoutBumping) {
    std::string src = make_table("src"), ntab = make_table("ntgt"), itab = make_table("itgt");
    std::string ds = domain_of(src), dn = domain_of(ntab), di = domain_of(itab);
    std::string a = new_uuid(), b = new_uuid();
    // (a, dn) has a version of its own; (b, dn) was never bumped.
    exec(*conn_, "INSERT INTO " + ntab + " VALUES (1, " + uuid_lit(a) + ")");
    exec(*conn_, "UPDATE " + ntab + " SET val = 1");
    exec(*conn_, "INSERT INTO " + itab + " VALUES (1, " + uuid_lit(a) + ")");
    add_rule(ds, dn, "notify");
    add_rule(ds, di, "invalidate");
    settle();

    std::set<PairKey> pairs;
    for (const std::string &tenant : {a, b, std::string(kAllTenants)})
        for (const std::string &dom : {ds, dn, di})
            pairs.insert({tenant, dom});
    std::map<PairKey, long long> before = current(pairs);

    {
        pqxx::work tx(*conn_);
        tx.exec("INSERT INTO " + src + " VALUES (1, " + uuid_lit(a) + "), (2, " + uuid_lit(b) +
                ")");
        tx.commit();
    }
    std::map<PairKey, long long> after = current(pairs);
    for (const PairKey &k : pairs) {
        long long delta = k.second == dn ? 0 : 1;
        EXPECT_EQ(after[k], before[k] + delta)
            << "(" << k.first << ", " << k.second << ")"
            << (k.second == dn ? ": a notify rule must not bump its target" : ": bumped once");
    }
    EXPECT_GT(after[PairKey(a, dn)], after[PairKey(b, dn)]) << "(a, dn) has a version of its own";

    ASSERT_TRUE(wait_for_pairs({ds, dn, di}, pairs)) << "not every pair was announced";
    expect_exactly({ds, dn, di}, after, "write to a source with a notify and an invalidate rule");

    // The rules stay put: a second write announces the same way again.
    settle();
    exec(*conn_, "UPDATE " + src + " SET val = 2 WHERE tenant_id = " + uuid_lit(a));
    std::set<PairKey> second{{a, ds}, {kAllTenants, ds}, {a, dn}, {kAllTenants, dn},
                             {a, di}, {kAllTenants, di}};
    std::map<PairKey, long long> after2 = current(second);
    EXPECT_EQ(after2[PairKey(a, dn)], after[PairKey(a, dn)]);
    EXPECT_EQ(after2[PairKey(a, di)], after[PairKey(a, di)] + 1);
    ASSERT_TRUE(wait_for_pairs({ds, dn, di}, second)) << "not every pair was announced";
    expect_exactly({ds, dn, di}, after2, "second write, one tenant");
}

// A target of a cascade rule that is also changed directly in the same
// transaction is announced once, with its bump.
TEST_F(Notify, NotifyTargetAlsoWrittenIsAnnouncedOnceWithItsBump) {
    std::string src = make_table("src"), ntab = make_table("ntgt");
    std::string ds = domain_of(src), dn = domain_of(ntab);
    std::string a = new_uuid();
    add_rule(ds, dn, "notify");
    settle();
    std::set<PairKey> pairs{{a, ds}, {kAllTenants, ds}, {a, dn}, {kAllTenants, dn}};
    std::map<PairKey, long long> before = current(pairs);
    {
        pqxx::work tx(*conn_);
        tx.exec("INSERT INTO " + src + " VALUES (1, " + uuid_lit(a) + ")");
        tx.exec("INSERT INTO " + ntab + " VALUES (1, " + uuid_lit(a) + ")");
        tx.commit();
    }
    std::map<PairKey, long long> after = current(pairs);
    for (const PairKey &k : pairs)
        EXPECT_EQ(after[k], before[k] + 1) << "(" << k.first << ", " << k.second << ")";
    ASSERT_TRUE(wait_for_pairs({ds, dn}, pairs));
    expect_exactly({ds, dn}, after, "source and notify target written together");
}

// Cascades into a global domain: every announced pair carries the version
// current_version() gives that pair, and domain_version agrees with
// current_version() for every row of the domain.
// A global target has one version, the all-tenants pair's: a cascade from
// (t, source) bumps and announces (all, target), never a (t, target) row
// that direct writes to the global table would not move again.
TEST_F(Notify, CascadeIntoGlobalDomainAnnouncesItsVersion) {
    std::string src = make_table("src");
    std::string gn = table_name("gnotify"), gi = table_name("ginval");
    create_table(gn, "(id int PRIMARY KEY, val int)");
    create_table(gi, "(id int PRIMARY KEY, val int)");
    track(gn, nullptr, nullptr);
    track(gi, nullptr, nullptr);
    std::string ds = domain_of(src), dgn = domain_of(gn), dgi = domain_of(gi);
    exec(*conn_, "INSERT INTO " + gn + " VALUES (1, 0)");
    exec(*conn_, "INSERT INTO " + gi + " VALUES (1, 0)");
    add_rule(ds, dgn, "notify");
    add_rule(ds, dgi, "invalidate");
    settle();
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + src + " VALUES (1, " + uuid_lit(a) + ")");

    std::set<PairKey> all_pairs{{kAllTenants, dgn}, {kAllTenants, dgi}};
    ASSERT_TRUE(wait_for_pairs({dgn, dgi}, all_pairs));
    for (const Seen &s : announced({dgn, dgi}))
        EXPECT_EQ(s.a.version, version(*conn_, s.a.tenant, s.a.domain))
            << "announced " << object_text(s.a) << " but current_version() of that pair differs";

    // A direct write to the global table afterwards: every domain_version
    // row of the domain must follow current_version().
    exec(*conn_, "UPDATE " + gi + " SET val = val + 1");
    for (const auto &[key, v] : persisted_versions(*conn_)) {
        if (key.second == dgi) {
            EXPECT_EQ(v, version(*conn_, key.first, key.second))
                << "domain_version row (" << key.first << ", " << key.second
                << ") disagrees with current_version()";
        }
    }
}

}  // namespace
}  // namespace fcit
