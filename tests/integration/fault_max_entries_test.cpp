// More pairs than fraiseql_cache.max_entries (suite Fault, test 3): the
// spilled pairs, answered from domain_version. max_entries is set with ALTER
// SYSTEM and restored by a SystemSettingGuard. The fixture: fault_fixture.hpp.
#include <sstream>
#include <utility>
#include <vector>

#include "fault_fixture.hpp"
#include "harness.hpp"
#include "server_log.hpp"
#include "setting_guard.hpp"

namespace fcit {
namespace {

// =============================================================================
// 3. More pairs than fraiseql_cache.max_entries: the ones that do not fit are
// answered from domain_version, exactly, with a WARNING and a counter.
TEST_F(Fault, PairsBeyondMaxEntriesStayExact) {
    SystemSettingGuard entries_guard(conn_, "fraiseql_cache.max_entries");
    ASSERT_EQ(entries_guard.set("1024"), "");
    ASSERT_EQ(wait_until_serving(), "");
    ASSERT_EQ(read_stats(*conn_).max_entries, 1024);

    const std::string log_path = server_log_path(*conn_);
    const std::streamoff log_offset = file_size(log_path);
    const Stats stats_before = read_stats(*conn_);

    std::string t = make_tenant_table();
    std::string d = domain_of(t);
    constexpr int kTenants = 1500, kPerTransaction = 500;
    for (int from = 1; from <= kTenants; from += kPerTransaction)
        exec(*conn_, "INSERT INTO " + t + " (id, tenant_id) SELECT g, gen_random_uuid() "
                     "FROM generate_series(" + std::to_string(from) + ", " +
                     std::to_string(from + kPerTransaction - 1) + ") g");

    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t + " x JOIN "
                               "fraiseql_cache.domain_version dv ON dv.tenant_id = x.tenant_id "
                               "AND dv.domain = " + conn_->quote(d)),
              kTenants)
        << "pairs persisted";
    const Stats stats_full = read_stats(*conn_);
    EXPECT_GT(stats_full.spilled_pairs, stats_before.spilled_pairs)
        << "no pair counted as spilled with " << kTenants << " tenants and max_entries 1024";
    EXPECT_LE(stats_full.shared_entries, 1024);

    // Every pair of the database, spilled or not, answers exactly what is
    // persisted; the new ones one commit above the floor they started from.
    auto mismatches = [&](const std::string &where) {
        return query_ll(*conn_,
                        "SELECT count(*) FROM fraiseql_cache.domain_version dv "
                        "WHERE fraiseql_cache.current_version(dv.tenant_id, dv.domain) "
                        "<> dv.version " + where);
    };
    EXPECT_EQ(mismatches(""), 0) << "current_version() differs from domain_version";
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t +
                                   " x WHERE (fraiseql_cache.current_versions(x.tenant_id, "
                                   "ARRAY[" + conn_->quote(d) + "]))[1] <> "
                                   "fraiseql_cache.current_version(x.tenant_id, " +
                                   conn_->quote(d) + ")"),
              0)
        << "current_versions() differs from current_version()";
    EXPECT_EQ(query_ll(*conn_, "SELECT count(*) FROM " + t +
                                   " x WHERE fraiseql_cache.current_version(x.tenant_id, " +
                                   conn_->quote(d) + ") <> " + std::to_string(stats_before.floor) +
                                   " + 1"),
              0)
        << "a new pair is not at floor + 1 after one commit";

    // Which pairs did not fit: reading one costs a domain_version read
    // (stats().table_reads; nothing else runs against this cluster).
    std::vector<std::pair<int, std::string>> spilled, in_memory;
    {
        pqxx::nontransaction tx(*conn_);
        pqxx::result r = tx.exec("SELECT id, tenant_id::text FROM " + t + " ORDER BY id DESC");
        tx.commit();
        for (const auto &row : r) {
            const std::string tenant = row[1].as<std::string>();
            long long reads0 = read_stats(*conn_).table_reads;
            (void)version(*conn_, tenant, d);
            bool from_table = read_stats(*conn_).table_reads > reads0;
            (from_table ? spilled : in_memory).emplace_back(row[0].as<int>(), tenant);
            if (spilled.size() >= 40 && in_memory.size() >= 5)
                break;
        }
    }
    ASSERT_GE(spilled.size(), 20u) << "could not find pairs answered from domain_version";
    RecordProperty("spilled_found", int(spilled.size()));

    // Each commit touching a spilled pair is visible at once, exactly +1...
    int not_read_back = 0;
    std::ostringstream first;
    for (const auto &[id, tenant] : spilled) {
        long long v0 = version(*conn_, tenant, d);
        exec(*conn_, "UPDATE " + t + " SET val = val + 1 WHERE id = " + std::to_string(id));
        long long v1 = version(*conn_, tenant, d);
        if (v1 != v0 + 1 && not_read_back++ < 3)
            first << " " << tenant << ": " << v0 << " -> " << v1;
    }
    EXPECT_EQ(not_read_back, 0) << "a bump of a spilled pair not exactly +1 right after COMMIT:"
                                << first.str();
    // ...and the version counts committed transactions also when several of
    // them reach the worker in one batch: the worker is stopped while 10
    // transactions touching 20 spilled pairs (and 5 in memory) commit, so
    // its next batch coalesces them.
    {
        std::vector<std::pair<int, std::string>> chosen(spilled.begin(), spilled.begin() + 20);
        chosen.insert(chosen.end(), in_memory.begin(), in_memory.end());
        std::string ids;
        std::vector<long long> v0;
        for (std::size_t i = 0; i < chosen.size(); i++) {
            ids += (i ? "," : "") + std::to_string(chosen[i].first);
            v0.push_back(version(*conn_, chosen[i].second, d));
        }
        auto burst = connect();
        exec(*burst, "SET fraiseql_cache.wait_for_bump = off");
        constexpr int kBurst = 10;
        {
            const int pid = worker_pid(*conn_);
            ASSERT_GT(pid, 0);
            StoppedProcess stopped(pid);
            ASSERT_TRUE(stopped.stop());
            for (int k = 0; k < kBurst; k++)
                exec(*burst, "UPDATE " + t + " SET val = val + 1 WHERE id IN (" + ids + ")");
        }  // SIGCONT
        exec(*conn_, "UPDATE " + t + " SET val = val + 1 WHERE id IN (" + ids + ")");
        int off_spilled = 0, off_memory = 0;
        std::ostringstream diffs;
        for (std::size_t i = 0; i < chosen.size(); i++) {
            long long v1 = version(*conn_, chosen[i].second, d);
            if (v1 != v0[i] + kBurst + 1) {
                if (off_spilled + off_memory < 3)
                    diffs << " " << (i < 20 ? "spilled " : "in memory ") << chosen[i].second
                          << ": " << v0[i] << " -> " << v1;
                (i < 20 ? off_spilled : off_memory)++;
            }
        }
        EXPECT_EQ(off_spilled + off_memory, 0)
            << off_spilled << " of 20 spilled pairs and " << off_memory << " of "
            << chosen.size() - 20 << " pairs in memory did not count " << kBurst + 1
            << " committed transactions (" << kBurst << " of them coalesced in one batch):"
            << diffs.str();
    }
    EXPECT_EQ(mismatches(""), 0) << "current_version() differs from domain_version at the end";

    const std::string log = read_file_from(log_path, log_offset);
    EXPECT_NE(log.find("did not fit in shared memory"), std::string::npos)
        << "no WARNING in " << log_path;
    RecordProperty("spilled_pairs", int(stats_full.spilled_pairs - stats_before.spilled_pairs));
    RecordProperty("warnings_logged", int(count_occurrences(log, "did not fit in shared memory")));
}

}  // namespace
}  // namespace fcit
