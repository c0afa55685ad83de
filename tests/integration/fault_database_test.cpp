// The served database renamed, renamed back, dropped and created again
// (suite Fault, test 5), on a second cluster of its own (second_cluster.hpp:
// scripts/cluster.sh on a free port, database fc_fault_db), destroyed at the
// end. The fixture: fault_fixture.hpp.
#include <cstdio>
#include <set>
#include <sstream>
#include <thread>

#include "fault_fixture.hpp"
#include "harness.hpp"
#include "second_cluster.hpp"
#include "server_log.hpp"

namespace fcit {
namespace {

// "ok", or "<sqlstate>|<message>|<hint>" of the error `sql` raised.
std::string try_sql(pqxx::connection &c, const std::string &sql) {
    exec(c,
         "CREATE OR REPLACE FUNCTION pg_temp.fc_try(sql text) RETURNS text LANGUAGE plpgsql AS $f$ "
         "DECLARE s text; m text; h text; "
         "BEGIN EXECUTE sql; RETURN 'ok'; "
         "EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, "
         "m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT; RETURN s || '|' || m || '|' || "
         "coalesce(h, ''); END $f$");
    return query_str(c, "SELECT pg_temp.fc_try(" + c.quote(sql) + ")");
}

std::string sqlstate_part(const std::string &r) { return r.substr(0, r.find('|')); }
std::string hint_part(const std::string &r) {
    auto last = r.rfind('|');
    return last == std::string::npos ? "" : r.substr(last + 1);
}

// Terminates the sessions (the worker included) of `db` and runs `ddl`
// (which needs the database to itself), retrying within `timeout`: the
// worker comes back after bgw_restart_time (1 s). "" or the last error.
std::string exclusive_ddl(pqxx::connection &admin, const std::string &db, const std::string &ddl,
                          milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string last = "no attempt";
    while (Clock::now() < deadline) {
        try {
            exec(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " +
                            admin.quote(db) + " AND pid <> pg_backend_pid()");
            exec(admin, ddl);
            return "";
        } catch (const std::exception &e) {
            last = std::string(sqlstate_of(e)) + " " + e.what();
            std::this_thread::sleep_for(milliseconds(10));
        }
    }
    return last;
}

struct Observation {
    int worker_samples = 0, worker_present = 0;
    std::set<int> worker_pids;
    bool server_up = true, other_db_ok = true;
    std::string failure;
};

// Watches the second cluster for `span`: workers, the server, another database.
Observation observe(pqxx::connection &admin, pqxx::connection &other, milliseconds span) {
    Observation o;
    const auto until = Clock::now() + span;
    while (Clock::now() < until) {
        try {
            int pid = worker_pid(admin);
            o.worker_samples++;
            if (pid != 0) {
                o.worker_present++;
                o.worker_pids.insert(pid);
            }
        } catch (const std::exception &e) {
            o.server_up = false;
            o.failure = e.what();
        }
        try {
            exec(other, "UPDATE fc_plain SET n = n + 1");
        } catch (const std::exception &e) {
            o.other_db_ok = false;
            o.failure = e.what();
        }
        std::this_thread::sleep_for(milliseconds(50));
    }
    return o;
}

std::string summary(const Observation &o) {
    std::ostringstream s;
    s << "worker present in " << o.worker_present << "/" << o.worker_samples << " samples, "
      << o.worker_pids.size() << " distinct worker pids";
    return s.str();
}

TEST_F(Fault, ServedDatabaseRenamedOrDroppedAndBack) {
    SecondCluster cluster("fc_fault_db");
    ASSERT_EQ(cluster.start(), "");
    const std::string db = cluster.db();
    const std::string log_path = cluster.log_path();
    const auto started = Clock::now();

    auto admin = connect_to(cluster.conninfo("postgres"));
    const std::string postmaster_start =
        query_str(*admin, "SELECT pg_postmaster_start_time()::text");
    const std::string tenant = new_uuid();
    const std::string table = "tv_fc_db", domain = "fc_db";

    // The served database serves; a write is reflected as soon as COMMIT returns.
    auto write_and_check = [&](pqxx::connection &c, std::string *why) -> long long {
        long long v0 = version(c, tenant, domain);
        exec(c, "UPDATE " + table + " SET val = val + 1 WHERE id = 1");
        long long v1 = version(c, tenant, domain);
        if (v1 != v0 + 1)
            *why = "write not reflected at once: " + std::to_string(v0) + " -> " +
                   std::to_string(v1);
        return v1;
    };
    auto set_up_served = [&](pqxx::connection &c) {
        exec(c, "CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache");
        exec(c, "CREATE TABLE IF NOT EXISTS " + table +
                    " (id int PRIMARY KEY, tenant_id uuid NOT NULL, val int NOT NULL DEFAULT 0)");
        exec(c, "SELECT fraiseql_cache.setup_table_invalidation(" + c.quote(table) + ")");
        exec(c, "INSERT INTO " + table + " VALUES (1, '" + tenant + "', 0) "
                "ON CONFLICT (id) DO NOTHING");
    };
    // Waits until the worker serves `db` again: a write is reflected at once.
    auto wait_served = [&](std::unique_ptr<pqxx::connection> &c, seconds timeout,
                           long long *version_out) -> std::string {
        std::string last = "no attempt";
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            try {
                if (!c || !c->is_open())
                    c = connect_to(cluster.conninfo(db), seconds(10));
                std::string why;
                long long v = write_and_check(*c, &why);
                if (why.empty()) {
                    *version_out = v;
                    return "";
                }
                last = why;
            } catch (const std::exception &e) {
                last = std::string(sqlstate_of(e)) + " " + e.what();
                if (c && !c->is_open())
                    c.reset();
            }
            std::this_thread::sleep_for(milliseconds(100));
        }
        return "not served again after " + std::to_string(timeout.count()) + " s: " + last;
    };

    std::unique_ptr<pqxx::connection> served = connect_to(cluster.conninfo(db));
    set_up_served(*served);
    long long v_start = 0;
    ASSERT_EQ(wait_served(served, seconds(20), &v_start), "");

    // Another database: unaffected throughout; not served (55000 + hint).
    exec(*admin, "CREATE DATABASE fc_other");
    auto other = connect_to(cluster.conninfo("fc_other"));
    exec(*other, "CREATE TABLE fc_plain (n int); INSERT INTO fc_plain VALUES (0)");
    exec(*other, "CREATE TABLE tv_other (id int PRIMARY KEY, tenant_id uuid)");
    std::string r = try_sql(*other, "CREATE EXTENSION pg_fraiseql_cache");
    EXPECT_EQ(r, "ok") << "CREATE EXTENSION in a database not served";
    r = try_sql(*other, "SELECT fraiseql_cache.setup_table_invalidation('tv_other')");
    EXPECT_EQ(sqlstate_part(r), "55000") << r;
    EXPECT_NE(hint_part(r), "") << "no hint: " << r;
    RecordProperty("other_db_setup_error", r);

    // ---- renamed ------------------------------------------------------------
    close_connection(served);
    std::streamoff log_offset = file_size(log_path);
    ASSERT_EQ(exclusive_ddl(*admin, db, "ALTER DATABASE " + db + " RENAME TO fc_fault_db_renamed",
                            seconds(20)),
              "");
    Observation renamed = observe(*admin, *other, milliseconds(3000));
    std::string renamed_log = read_file_from(log_path, log_offset);
    EXPECT_TRUE(renamed.server_up) << renamed.failure;
    EXPECT_TRUE(renamed.other_db_ok) << renamed.failure;
    EXPECT_EQ(query_str(*admin, "SELECT pg_postmaster_start_time()::text"), postmaster_start)
        << "the server restarted";
    {
        auto c = connect_to(cluster.conninfo("fc_fault_db_renamed"));
        std::string rr = try_sql(*c, "SELECT fraiseql_cache.current_version('" + tenant +
                                         "', " + c->quote(domain) + ")");
        EXPECT_EQ(sqlstate_part(rr), "55000") << "current_version() in the renamed database: " << rr;
        std::string rw = try_sql(*c, "UPDATE " + table + " SET val = val + 1");
        EXPECT_EQ(sqlstate_part(rw), "55000") << "tracked write in the renamed database: " << rw;
        RecordProperty("renamed_current_version", rr);
        RecordProperty("renamed_write", rw);
        close_connection(c);
    }
    r = try_sql(*other, "SELECT fraiseql_cache.setup_table_invalidation('tv_other')");
    EXPECT_EQ(sqlstate_part(r), "55000") << "other database while the served one is renamed: " << r;
    RecordProperty("renamed_observation", summary(renamed));
    RecordProperty("renamed_log_fatal_lines", int(count_occurrences(renamed_log, "FATAL")));
    std::fprintf(stderr,
                 "[fault] served database renamed, 3 s: %s; log: %zu FATAL lines, e.g.\n%s",
                 summary(renamed).c_str(), count_occurrences(renamed_log, "FATAL"),
                 lines_with(renamed_log, "worker", 8).c_str());

    // ---- renamed back ---------------------------------------------------------
    ASSERT_EQ(exclusive_ddl(*admin, "fc_fault_db_renamed",
                            "ALTER DATABASE fc_fault_db_renamed RENAME TO " + db, seconds(20)),
              "");
    long long v_back = 0;
    auto back_start = Clock::now();
    ASSERT_EQ(wait_served(served, seconds(20), &v_back), "") << "after the rename back";
    EXPECT_GT(v_back, v_start);
    RecordProperty("served_again_after_rename_ms",
                   int(std::chrono::duration_cast<milliseconds>(Clock::now() - back_start).count()));
    const long long all_before_drop = version(*served, kAllTenants, domain);
    const long long v_before_drop = version(*served, tenant, domain);

    // ---- dropped --------------------------------------------------------------
    close_connection(served);
    log_offset = file_size(log_path);
    ASSERT_EQ(exclusive_ddl(*admin, db, "DROP DATABASE " + db, seconds(20)), "");
    Observation dropped = observe(*admin, *other, milliseconds(3000));
    std::string dropped_log = read_file_from(log_path, log_offset);
    EXPECT_TRUE(dropped.server_up) << dropped.failure;
    EXPECT_TRUE(dropped.other_db_ok) << dropped.failure;
    EXPECT_EQ(query_str(*admin, "SELECT pg_postmaster_start_time()::text"), postmaster_start)
        << "the server restarted";
    r = try_sql(*other, "SELECT fraiseql_cache.setup_table_invalidation('tv_other')");
    EXPECT_EQ(sqlstate_part(r), "55000") << "other database while the served one is dropped: " << r;
    RecordProperty("dropped_observation", summary(dropped));
    RecordProperty("dropped_log_fatal_lines", int(count_occurrences(dropped_log, "FATAL")));
    std::fprintf(stderr,
                 "[fault] served database dropped, 3 s: %s; log: %zu FATAL lines, e.g.\n%s",
                 summary(dropped).c_str(), count_occurrences(dropped_log, "FATAL"),
                 lines_with(dropped_log, "worker", 8).c_str());

    // ---- created again ----------------------------------------------------------
    // The dropped database's slot is released: no worker tries to connect to
    // it (no "does not exist" FATAL in the log). A new database of the same
    // name answers at once (setup succeeds), and must not hand out the
    // versions the dropped one showed.
    {
        const std::string fatal = "does not exist";
        std::this_thread::sleep_for(milliseconds(2000));
        EXPECT_EQ(count_occurrences(read_file_from(log_path, log_offset), fatal), 0u)
            << "a worker tried to connect to the dropped database";
    }
    exec(*admin, "CREATE DATABASE " + db);
    auto created_at = Clock::now();
    served = connect_to(cluster.conninfo(db));
    set_up_served(*served);
    if (worker_pid(*admin) == 0) {
        // Before its worker has started, the re-created database either
        // answers above what the dropped one showed, or refuses with 55000
        // (a cache miss for the client): never the dropped database's values
        // from shared memory, which would make entries tagged before the
        // drop look fresh.
        std::string early;
        try {
            const long long v_early = version(*served, tenant, domain);
            const long long all_early = version(*served, kAllTenants, domain);
            EXPECT_GT(v_early, v_before_drop) << "I3: re-created database, worker not back";
            EXPECT_GT(all_early, all_before_drop) << "all-tenants pair, same window";
            early = std::to_string(v_early) + " (before the drop: " +
                    std::to_string(v_before_drop) + ")";
        } catch (const std::exception &e) {
            EXPECT_EQ(sqlstate_of(e), "55000") << e.what();
            early = "refused (55000) until the worker is back";
            served = connect_to(cluster.conninfo(db));
        }
        RecordProperty("recreated_version_before_worker", early);
    } else {
        RecordProperty("recreated_version_before_worker", "window missed: worker already back");
    }
    long long v_new = 0;
    ASSERT_EQ(wait_served(served, seconds(40), &v_new), "") << "after the database came back";
    RecordProperty("served_again_after_create_ms",
                   int(std::chrono::duration_cast<milliseconds>(Clock::now() - created_at).count()));
    // Same tenant and domain names in the new database: a cache entry tagged
    // before the drop must not look fresh (as for DROP/CREATE EXTENSION).
    EXPECT_GT(v_new, v_before_drop) << "version of (tenant, domain) in the re-created database";
    EXPECT_GT(version(*served, kAllTenants, domain), all_before_drop);
    // Serving normally: one more write, one more bump.
    std::string why;
    long long v_next = write_and_check(*served, &why);
    EXPECT_EQ(why, "");
    EXPECT_EQ(v_next, v_new + 1);

    // A worker that could not connect must not be left running elsewhere.
    EXPECT_EQ(query_ll(*admin, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                               "'fraiseql_cache worker' AND datname IS DISTINCT FROM " +
                                   admin->quote(db)),
              0);
    close_connection(served);
    close_connection(other);
    close_connection(admin);
    RecordProperty("runtime_ms",
                   int(std::chrono::duration_cast<milliseconds>(Clock::now() - started).count()));
}

}  // namespace
}  // namespace fcit
