// Every write path bumps the (tenant, domain) pairs it touched, once per
// committed transaction (I4), and nothing when it rolls back (I5).
//
// Each step commits (with fraiseql_cache.wait_for_bump = on, the default, so
// COMMIT returns once the bump is published: I6) and then compares every
// tenant of interest with its value before the step, exactly.
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "harness.hpp"
#include "setting_guard.hpp"

namespace fcit {
namespace {

class WritePath : public IntegrationTest {
  protected:
    // A tenant-scoped table: (id, tenant_id, val), tracked with defaults.
    std::string make_tenant_table(const std::string &stem = "") {
        return IntegrationTest::make_tenant_table(stem, Tenant::kNullable);
    }

    using Snapshot = std::map<std::string, long long>;  // tenant -> version

    Snapshot snapshot(const std::string &domain, const std::vector<std::string> &tenants) {
        Snapshot s;
        for (const std::string &t : tenants)
            s[t] = version(*conn_, t, domain);
        s[kAllTenants] = version(*conn_, kAllTenants, domain);
        return s;
    }

    // Expects version(t) == before[t] + delta for every tenant in `before`
    // (delta 0 unless listed), and returns the new snapshot.
    Snapshot expect_deltas(const std::string &domain, const Snapshot &before,
                           const std::map<std::string, long long> &deltas,
                           const std::string &step) {
        Snapshot now;
        for (const auto &[tenant, v0] : before) {
            long long expected = v0;
            auto it = deltas.find(tenant);
            if (it != deltas.end())
                expected += it->second;
            long long v = version(*conn_, tenant, domain);
            now[tenant] = v;
            EXPECT_EQ(v, expected) << step << ": tenant " << tenant << " domain " << domain
                                   << " (before " << v0 << ")";
        }
        return now;
    }

    // domain_version (what clients read directly) agrees with current_version();
    // a pair without a row reads the floor (the value of never-seen pairs).
    void expect_persisted_matches(const std::string &domain, const Snapshot &s,
                                  const std::string &step) {
        const long long floor = version(*conn_, new_uuid(), "it_never_" + random_hex(12));
        for (const auto &entry : s) {
            const std::string &tenant = entry.first;
            long long p = persisted_version(*conn_, tenant, domain);
            long long v = version(*conn_, tenant, domain);
            if (p == -1)
                EXPECT_EQ(v, floor) << step << ": (" << tenant << ", " << domain
                                    << ") has no domain_version row, so it must read the floor";
            else
                EXPECT_EQ(p, v) << step << ": domain_version row of (" << tenant << ", " << domain
                                << ")";
        }
    }

    // A committed write to the probe domain, reflected at once: every bump
    // handed to the worker before it has been processed (the ring is FIFO).
    void barrier() {
        std::string why = wait_until_serving(seconds(20));
        ASSERT_EQ(why, "") << "barrier write not published";
    }
};

TEST_F(WritePath, InsertUpdateDeleteEachBumpOnce) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid();
    Snapshot s = snapshot(d, {a, b});

    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0)");
    s = expect_deltas(d, s, {{a, 1}, {kAllTenants, 1}}, "INSERT one row");
    expect_persisted_matches(d, s, "INSERT one row");

    {
        // Several rows and statements, one transaction: still one bump.
        pqxx::work tx(*conn_);
        tx.exec("INSERT INTO " + t + " VALUES (2, " + uuid_lit(a) + ", 0), (3, " + uuid_lit(a) +
                ", 0)");
        tx.exec("INSERT INTO " + t + " VALUES (4, " + uuid_lit(a) + ", 0)");
        tx.exec("UPDATE " + t + " SET val = val + 1 WHERE id = 2");
        tx.commit();
    }
    s = expect_deltas(d, s, {{a, 1}, {kAllTenants, 1}}, "multi-statement transaction");

    exec(*conn_, "UPDATE " + t + " SET val = val + 1 WHERE tenant_id = " + uuid_lit(a));
    s = expect_deltas(d, s, {{a, 1}, {kAllTenants, 1}}, "UPDATE 4 rows");

    exec(*conn_, "DELETE FROM " + t + " WHERE id = 1");
    s = expect_deltas(d, s, {{a, 1}, {kAllTenants, 1}}, "DELETE one row");
    expect_persisted_matches(d, s, "DELETE one row");

    // A statement that changes no row changes nothing.
    exec(*conn_, "UPDATE " + t + " SET val = 0 WHERE id = -1");
    s = expect_deltas(d, s, {}, "UPDATE of no row");

    exec(*conn_, "INSERT INTO " + t + " VALUES (10, " + uuid_lit(b) + ", 0)");
    s = expect_deltas(d, s, {{b, 1}, {kAllTenants, 1}}, "INSERT for tenant B");
}

TEST_F(WritePath, BulkUpdateOverThreeTenantsBumpsEachOnce) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid(), c = new_uuid(), other = new_uuid();
    Snapshot s = snapshot(d, {a, b, c, other});

    exec(*conn_, "INSERT INTO " + t + " SELECT g, (ARRAY[" + uuid_lit(a) + ", " + uuid_lit(b) +
                     ", " + uuid_lit(c) + "])[1 + g % 3], 0 FROM generate_series(1, 10000) g");
    s = expect_deltas(d, s, {{a, 1}, {b, 1}, {c, 1}, {kAllTenants, 1}}, "10k-row INSERT");

    {
        pqxx::work tx(*conn_);
        pqxx::result r = tx.exec("UPDATE " + t + " SET val = val + 1");
        EXPECT_EQ(r.affected_rows(), 10000u);
        tx.commit();
    }
    s = expect_deltas(d, s, {{a, 1}, {b, 1}, {c, 1}, {kAllTenants, 1}}, "10k-row UPDATE");
    expect_persisted_matches(d, s, "10k-row UPDATE");

    // current_versions() answers the same, in the order asked.
    for (const std::string &tenant : {a, b, c}) {
        std::vector<long long> vs = versions(*conn_, tenant, {d, "it_never_" + random_hex(8), d});
        ASSERT_EQ(vs.size(), 3u);
        EXPECT_EQ(vs[0], s[tenant]);
        EXPECT_EQ(vs[2], s[tenant]);
    }
}

TEST_F(WritePath, UpdateMovingRowBetweenTenantsBumpsBoth) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid(), c = new_uuid();
    exec(*conn_,
         "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0), (2, " + uuid_lit(c) + ", 0)");
    Snapshot s = snapshot(d, {a, b, c});

    exec(*conn_, "UPDATE " + t + " SET tenant_id = " + uuid_lit(b) + " WHERE id = 1");
    s = expect_deltas(d, s, {{a, 1}, {b, 1}, {kAllTenants, 1}}, "UPDATE tenant A -> B");
    expect_persisted_matches(d, s, "UPDATE tenant A -> B");
}

TEST_F(WritePath, CopyFromStdinBumps) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid(), c = new_uuid();
    Snapshot s = snapshot(d, {a, b, c});
    {
        pqxx::work tx(*conn_);
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
        // COPY ... FROM STDIN under the hood.
        pqxx::stream_to copy(tx, t, std::vector<std::string>{"id", "tenant_id", "val"});
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
        for (int i = 1; i <= 500; i++)
            copy << std::make_tuple(i, i % 2 ? a : b, i);
        copy.complete();
        tx.commit();
    }
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t), 500);
    s = expect_deltas(d, s, {{a, 1}, {b, 1}, {kAllTenants, 1}}, "COPY 500 rows");
    expect_persisted_matches(d, s, "COPY 500 rows");
}

TEST_F(WritePath, InsertOnConflictDoUpdateBumps) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0)");
    Snapshot s = snapshot(d, {a, b});

    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) +
                     ", 5) ON CONFLICT (id) DO UPDATE SET val = EXCLUDED.val");
    EXPECT_EQ(query_ll(*conn_, "SELECT val FROM " + t + " WHERE id = 1"), 5);
    s = expect_deltas(d, s, {{a, 1}, {kAllTenants, 1}}, "upsert (conflict, update)");

    exec(*conn_, "INSERT INTO " + t + " VALUES (2, " + uuid_lit(b) +
                     ", 7) ON CONFLICT (id) DO UPDATE SET val = EXCLUDED.val");
    s = expect_deltas(d, s, {{b, 1}, {kAllTenants, 1}}, "upsert (no conflict, insert)");

    // The conflict update moves the row to another tenant: both bump.
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(b) +
                     ", 9) ON CONFLICT (id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id");
    s = expect_deltas(d, s, {{a, 1}, {b, 1}, {kAllTenants, 1}}, "upsert moving tenant");
}

TEST_F(WritePath, MergeBumps) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid(), c = new_uuid(), untouched = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0), (2, " + uuid_lit(c) +
                     ", 0), (3, " + uuid_lit(untouched) + ", 0)");
    Snapshot s = snapshot(d, {a, b, c, untouched});

    // A matched update (tenant a), an insert (b) and a matched delete (c).
    {
        pqxx::work tx(*conn_);
        pqxx::result r = tx.exec(
            "MERGE INTO " + t + " AS t USING (VALUES (1, " + uuid_lit(a) + ", 10), (4, " +
            uuid_lit(b) + ", 40), (2, " + uuid_lit(c) +
            ", -1)) AS s(id, tenant_id, val) ON t.id = s.id "
            "WHEN MATCHED AND s.val < 0 THEN DELETE "
            "WHEN MATCHED THEN UPDATE SET val = s.val "
            "WHEN NOT MATCHED THEN INSERT (id, tenant_id, val) VALUES (s.id, s.tenant_id, s.val)");
        EXPECT_EQ(r.affected_rows(), 3u);
        tx.commit();
    }
    s = expect_deltas(d, s, {{a, 1}, {b, 1}, {c, 1}, {kAllTenants, 1}}, "MERGE");
    expect_persisted_matches(d, s, "MERGE");
}

TEST_F(WritePath, PartitionedTableBumpsTheRightTenants) {
    std::string parent = table_name("");
    std::string d = domain_of(parent);
    std::string p1 = table_name("p1"), p2 = table_name("p2"), p3 = table_name("p3");
    create_table(parent,
                 "(tenant_id uuid NOT NULL, id int NOT NULL, region int NOT NULL, payload text) "
                 "PARTITION BY LIST (region)");
    // p1: attached before setup, columns in another order and dropped
    // columns in front, so tenant_id has another attribute number.
    create_table(p1,
                 "(junk1 int, payload text, junk2 text, id int NOT NULL, "
                 "region int NOT NULL, tenant_id uuid NOT NULL)");
    exec(*conn_, "ALTER TABLE " + p1 + " DROP COLUMN junk1, DROP COLUMN junk2");
    exec(*conn_, "ALTER TABLE " + parent + " ATTACH PARTITION " + p1 + " FOR VALUES IN (1)");
    track(parent);
    // p2: attached after setup, yet another layout.
    create_table(p2,
                 "(region int NOT NULL, pad1 int, pad2 int, pad3 int, tenant_id uuid NOT NULL, "
                 "id int NOT NULL, payload text)");
    exec(*conn_, "ALTER TABLE " + p2 + " DROP COLUMN pad1, DROP COLUMN pad2, DROP COLUMN pad3");
    exec(*conn_, "ALTER TABLE " + parent + " ATTACH PARTITION " + p2 + " FOR VALUES IN (2)");
    // p3: created as a partition after setup (the parent's layout).
    exec(*conn_, "CREATE TABLE " + p3 + " PARTITION OF " + parent + " FOR VALUES IN (3)");
    drop_later(p3);

    // The test only means something if the attribute numbers differ.
    EXPECT_EQ(query_ll(*conn_,
                       "SELECT count(DISTINCT attnum) FROM pg_attribute "
                       "WHERE attname = 'tenant_id' AND attrelid IN ('" +
                           parent + "'::regclass, '" + p1 + "'::regclass, '" + p2 +
                           "'::regclass, '" + p3 + "'::regclass)"),
              3);

    std::string a = new_uuid(), b = new_uuid(), c = new_uuid(), e = new_uuid();
    Snapshot s = snapshot(d, {a, b, c, e});
    exec(*conn_, "INSERT INTO " + parent +
                     " (tenant_id, id, region, payload) "
                     "SELECT CASE r WHEN 1 THEN " +
                     uuid_lit(a) + " WHEN 2 THEN " + uuid_lit(b) + " ELSE " + uuid_lit(c) +
                     " END, r * 100 + g, r, 'x' "
                     "FROM generate_series(1, 3) r, generate_series(1, 10) g");
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + p1), 10);
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + p2), 10);
    s = expect_deltas(d, s, {{a, 1}, {b, 1}, {c, 1}, {kAllTenants, 1}}, "INSERT into 3 partitions");

    exec(*conn_, "UPDATE " + parent + " SET payload = 'y' WHERE region = 2");
    s = expect_deltas(d, s, {{b, 1}, {kAllTenants, 1}}, "UPDATE partition 2 (tenant b)");
    exec(*conn_, "UPDATE " + parent + " SET payload = 'y' WHERE region = 1");
    s = expect_deltas(d, s, {{a, 1}, {kAllTenants, 1}}, "UPDATE partition 1 (tenant a)");
    exec(*conn_, "UPDATE " + p3 + " SET payload = 'y'");
    s = expect_deltas(d, s, {{c, 1}, {kAllTenants, 1}}, "UPDATE partition 3 directly (tenant c)");

    // Row movement p1 -> p2, same tenant.
    exec(*conn_, "UPDATE " + parent + " SET region = 2 WHERE id = 101");
    s = expect_deltas(d, s, {{a, 1}, {kAllTenants, 1}}, "move a row p1 -> p2");
    // Row movement p2 -> p3 that also changes the tenant.
    exec(*conn_,
         "UPDATE " + parent + " SET region = 3, tenant_id = " + uuid_lit(e) + " WHERE id = 201");
    s = expect_deltas(d, s, {{b, 1}, {e, 1}, {kAllTenants, 1}}, "move a row p2 -> p3, b -> e");

    exec(*conn_, "DELETE FROM " + parent + " WHERE region = 3 AND tenant_id = " + uuid_lit(c));
    s = expect_deltas(d, s, {{c, 1}, {kAllTenants, 1}}, "DELETE from partition 3");
    expect_persisted_matches(d, s, "partitioned table");
}

TEST_F(WritePath, RolledBackTransactionBumpsNothing) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0)");
    Snapshot s = snapshot(d, {a, b});
    const long long persisted_a = persisted_version(*conn_, a, d);

    {
        pqxx::work tx(*conn_);
        tx.exec("INSERT INTO " + t + " VALUES (2, " + uuid_lit(a) + ", 0), (3, " + uuid_lit(b) +
                ", 0)");
        tx.exec("UPDATE " + t + " SET val = 1");
        tx.abort();
    }
    {
        // Aborted by an error rather than by ROLLBACK.
        pqxx::work tx(*conn_);
        tx.exec("INSERT INTO " + t + " VALUES (4, " + uuid_lit(b) + ", 0)");
        EXPECT_THROW(tx.exec("INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0)"),
                     pqxx::sql_error);
    }
    // A later committed bump (another domain) has been published: had the
    // aborted work been handed to the worker, it would be visible now.
    barrier();
    s = expect_deltas(d, s, {}, "after rollbacks");
    EXPECT_EQ(persisted_version(*conn_, a, d), persisted_a);
    EXPECT_EQ(persisted_version(*conn_, b, d), -1) << "tenant b was only written by rollbacks";
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t), 1);

    // The same write, committed, is seen (the check above can fail).
    exec(*conn_, "INSERT INTO " + t + " VALUES (3, " + uuid_lit(b) + ", 0)");
    s = expect_deltas(d, s, {{b, 1}, {kAllTenants, 1}}, "committed write after rollbacks");
}

// Documented behaviour (DESIGN.md I5): work undone by a rolled-back
// savepoint inside a committed transaction MAY still bump its pairs (the
// per-transaction set is not unwound per subtransaction). Over-invalidation
// is harmless (a spurious cache miss), so only ">=" is asserted for those
// pairs; the pairs of the work that was kept must bump exactly once.
TEST_F(WritePath, RolledBackSavepointMayOverInvalidate) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid(), c = new_uuid();
    Snapshot s = snapshot(d, {a, b, c});
    {
        pqxx::work tx(*conn_);
        tx.exec("INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0)");
        tx.exec("SAVEPOINT s1");
        tx.exec("INSERT INTO " + t + " VALUES (2, " + uuid_lit(b) + ", 0)");
        tx.exec("ROLLBACK TO SAVEPOINT s1");
        tx.exec("SAVEPOINT s2");
        tx.exec("UPDATE " + t + " SET val = 5 WHERE id = 1");
        tx.exec("RELEASE SAVEPOINT s2");
        tx.commit();
    }
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t), 1);
    EXPECT_EQ(version(*conn_, a, d), s[a] + 1) << "kept work: exactly one bump";
    EXPECT_EQ(version(*conn_, kAllTenants, d), s[kAllTenants] + 1);
    EXPECT_GE(version(*conn_, b, d), s[b]) << "rolled-back savepoint: over-invalidation allowed";
    EXPECT_LE(version(*conn_, b, d), s[b] + 1) << "at most the one bump of this transaction";
    EXPECT_EQ(version(*conn_, c, d), s[c]) << "tenant c was never written";
}

TEST_F(WritePath, GlobalTableHasOneVersionForAllTenants) {
    // No tenant column at all: the default 'tenant_id' makes it global.
    std::string g1 = table_name("nocol");
    create_table(g1, "(id int PRIMARY KEY, val text)");
    std::string msg1 = track(g1);
    // A tenant_id column, but set up with a NULL tenant column: global too.
    std::string g2 = table_name("nullcol");
    create_table(g2, "(id int PRIMARY KEY, tenant_id uuid, val text)");
    std::string msg2 = track(g2, nullptr, nullptr);

    for (const std::string &t : {g1, g2}) {
        std::string d = domain_of(t);
        std::string x = new_uuid(), y = new_uuid();
        long long before = version(*conn_, kAllTenants, d);
        EXPECT_EQ(version(*conn_, x, d), before) << t;
        if (t == g1)
            exec(*conn_, "INSERT INTO " + t + " VALUES (1, 'a'), (2, 'b')");
        else
            exec(*conn_, "INSERT INTO " + t + " VALUES (1, '" + x + "', 'a'), (2, '" + y +
                             "', 'b'), (3, NULL, 'c')");
        long long after = version(*conn_, kAllTenants, d);
        EXPECT_EQ(after, before + 1) << t << ": one bump for the transaction";
        EXPECT_EQ(version(*conn_, x, d), after) << t << ": tenant x reads the domain's version";
        EXPECT_EQ(version(*conn_, y, d), after) << t;
        EXPECT_EQ(version(*conn_, new_uuid(), d), after) << t << ": any tenant";
        std::vector<long long> vs = versions(*conn_, y, {d});
        ASSERT_EQ(vs.size(), 1u);
        EXPECT_EQ(vs[0], after);
        EXPECT_EQ(query_ll(*conn_,
                           "SELECT count(*) FROM fraiseql_cache.domain_version "
                           "WHERE domain = " +
                               conn_->quote(d) + " AND tenant_id <> '" + kAllTenants + "'"),
                  0)
            << t << ": a global domain has only the all-tenants row";
        EXPECT_EQ(persisted_version(*conn_, kAllTenants, d), after) << t;

        exec(*conn_, "UPDATE " + t + " SET val = 'z'");
        EXPECT_EQ(version(*conn_, x, d), after + 1) << t << ": UPDATE";
    }
}

TEST_F(WritePath, ReplicaSessionReplicationRoleStillBumps) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    // A partitioned table whose partition exists when it is set up, and one
    // added later: their trigger clones must fire under 'replica' too.
    std::string parent = table_name("part");
    std::string p1 = table_name("part_p1"), p2 = table_name("part_p2");
    create_table(parent,
                 "(id int NOT NULL, tenant_id uuid NOT NULL, region int NOT NULL) "
                 "PARTITION BY LIST (region)");
    exec(*conn_, "CREATE TABLE " + p1 + " PARTITION OF " + parent + " FOR VALUES IN (1)");
    drop_later(p1);
    track(parent);
    exec(*conn_, "CREATE TABLE " + p2 + " PARTITION OF " + parent + " FOR VALUES IN (2)");
    drop_later(p2);
    std::string pd = domain_of(parent);

    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0)");
    Snapshot s = snapshot(d, {a});
    Snapshot sp = snapshot(pd, {a});

    SessionSettingGuard replica(*conn_, "session_replication_role", "replica");
    EXPECT_EQ(query_str(*conn_, "SHOW session_replication_role"), "replica");
    exec(*conn_, "UPDATE " + t + " SET val = val + 1");
    s = expect_deltas(d, s, {{a, 1}, {kAllTenants, 1}}, "UPDATE as replica");
    exec(*conn_, "INSERT INTO " + t + " VALUES (2, " + uuid_lit(a) + ", 0)");
    s = expect_deltas(d, s, {{a, 1}, {kAllTenants, 1}}, "INSERT as replica");

    exec(*conn_, "INSERT INTO " + parent + " VALUES (1, " + uuid_lit(a) + ", 1)");
    sp = expect_deltas(pd, sp, {{a, 1}, {kAllTenants, 1}},
                       "INSERT as replica into a partition that existed at setup");
    exec(*conn_, "INSERT INTO " + parent + " VALUES (2, " + uuid_lit(a) + ", 2)");
    sp = expect_deltas(pd, sp, {{a, 1}, {kAllTenants, 1}},
                       "INSERT as replica into a partition created after setup");
}

TEST_F(WritePath, TruncateBumpsEveryTenantOfTheDomain) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid();
    exec(*conn_,
         "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0), (2, " + uuid_lit(b) + ", 0)");
    Snapshot s = snapshot(d, {a, b});
    exec(*conn_, "TRUNCATE " + t);
    s = expect_deltas(d, s, {{a, 1}, {b, 1}, {kAllTenants, 1}}, "TRUNCATE");
}

TEST_F(WritePath, PrepareTransactionWithTrackedWritesIsRefused) {
    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    std::string untracked = table_name("untracked");
    create_table(untracked, "(id int)");
    std::string a = new_uuid();
    Snapshot s = snapshot(d, {a});

    std::string gid = "fcit_" + random_hex(12);
    std::string state;
    {
        pqxx::nontransaction ntx(*conn_);
        // Two-phase commit works at all here (max_prepared_transactions > 0)...
        std::string ok_gid = "fcit_ok_" + random_hex(12);
        ntx.exec("BEGIN");
        ntx.exec("INSERT INTO " + untracked + " VALUES (1)");
        ASSERT_NO_THROW(ntx.exec("PREPARE TRANSACTION '" + ok_gid + "'"))
            << "PREPARE TRANSACTION must work without tracked writes (max_prepared_transactions?)";
        ntx.exec("ROLLBACK PREPARED '" + ok_gid + "'");

        // ...but not with pending bumps.
        ntx.exec("BEGIN");
        ntx.exec("INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ", 0)");
        try {
            ntx.exec("PREPARE TRANSACTION '" + gid + "'");
            ADD_FAILURE() << "PREPARE TRANSACTION after a tracked write succeeded";
        } catch (const pqxx::sql_error &e) {
            state = e.sqlstate();
        }
        EXPECT_EQ(state, "0A000");
        ntx.exec("ROLLBACK");  // a WARNING only, if nothing is open
    }
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM pg_prepared_xacts WHERE gid = '" + gid + "'"),
              0)
        << "nothing may be prepared";
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t), 0) << "the write was rolled back";
    barrier();
    s = expect_deltas(d, s, {}, "refused PREPARE");
    // Cleanup if the product prepared it anyway.
    try {
        exec(*conn_, "ROLLBACK PREPARED '" + gid + "'");
    } catch (const std::exception &) {
    }
}

}  // namespace
}  // namespace fcit
