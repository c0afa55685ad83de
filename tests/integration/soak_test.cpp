// Exactness soak (suite Soak): I2 none lost, I4 once per transaction, I5
// aborts bump nothing, I6 read-your-writes, under a mixed concurrent load for
// FRAISEQL_SOAK_SECONDS (default 60).
//
// kWriters threads run transactions over kTenants tenants of one tracked
// table until the deadline, with fraiseql_cache.wait_for_bump = on and no
// cascade rules. Each thread owns its rows (ids in its own range), so
// threads share (tenant, domain) pairs but never wait on each other's row
// locks, and its in-memory model of "which row belongs to which tenant" is
// exact.
//
// Every transaction is recorded in a ledger:
//   - committed: pg_xact_status() of its xid, read after it ended (what the
//     server did, not what the client believes: a COMMIT sent after an error
//     answers ROLLBACK without an error);
//   - effective: tenants whose rows its surviving statements changed, from
//     RETURNING (a row moved between tenants counts for both);
//   - rolled_back: tenants written only inside a savepoint rolled back
//     before the transaction committed.
//
// The exact formula asserted afterwards, for every tenant t:
//
//   version(t) increase == #{ committed transactions T : t in effective(T) ∪ rolled_back(T) }
//   version(all) increase == #{ committed transactions }        (each touched some tenant)
//
// i.e. a rolled-back savepoint's tenants ARE counted with their committed
// transaction: the product records a pair when the row trigger fires and
// does not discard pairs at subtransaction abort (the documented, allowed
// over-invalidation of I5). Aborted transactions (ROLLBACK, an error then
// ROLLBACK, an error then COMMIT, a deferred unique violation failing COMMIT,
// serialization failures) count nothing, whatever their triggers recorded.
// Also: right after each commit, an observer session (not the writer's)
// already sees every effective tenant's pair and the all-tenants pair above
// what it read before the transaction began (I6); no pair is ever seen to
// decrease; and domain_version equals current_version() at the end.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "soak_common.hpp"
#include "stats.hpp"

namespace fcit {
namespace {

[[maybe_unused]] const bool watchdog_raised = soak::raise_watchdog();

constexpr int kWriters = 4;
constexpr int kTenants = 8;
constexpr int kAll = kTenants;  // index of the all-tenants pair in version vectors
constexpr int kInitialRowsPerTenant = 3;
constexpr long long kIdStride = 1000000000LL;  // thread k owns ids [k*stride+1, (k+1)*stride)
constexpr std::size_t kMaxRowsPerThread = 120;

enum Kind {
    kUpdateOne,          // one row, one tenant
    kUpdateMulti,        // every row of the thread in 2-3 tenants (several rows per tenant)
    kInsert,             // 1-3 rows over 1-2 tenants
    kDelete,             // one row
    kMove,               // a row moved to another tenant: both tenants
    kRollback,           // 1-3 writes, ROLLBACK
    kErrorThenRollback,  // writes, a failing statement (CHECK violation after the
                         // row trigger fired, or 1/0), ROLLBACK
    kErrorThenCommit,    // writes, a failing statement, COMMIT (the server rolls back)
    kDeferredFail,       // writes incl. a duplicate key under a deferred PK: COMMIT fails
    kSavepointRollback,  // write a; SAVEPOINT; write b; ROLLBACK TO SAVEPOINT; [write c]; COMMIT
    kSavepointError,     // write a; SAVEPOINT; write b; failing write b; ROLLBACK TO; COMMIT
    kSavepointRelease,   // write a; SAVEPOINT; write b; RELEASE SAVEPOINT; COMMIT
    kSerializable,       // write skew between two SERIALIZABLE sessions: one of them fails
    kKinds
};
const char *const kKindName[kKinds] = {
    "update_one",     "update_multi",       "insert",          "delete",
    "move",           "rollback",           "error_rollback",  "error_commit",
    "deferred_fail",  "savepoint_rollback", "savepoint_error", "savepoint_release",
    "serializable"};
const int kKindWeight[kKinds] = {22, 14, 9, 7, 5, 7, 5, 4, 4, 10, 5, 3, 5};
// What each kind must end as (kSerializable: either).
enum Expect { kMustCommit, kMustAbort, kEither };
const Expect kKindExpect[kKinds] = {kMustCommit, kMustCommit, kMustCommit, kMustCommit,
                                    kMustCommit, kMustAbort,  kMustAbort,  kMustAbort,
                                    kMustAbort,  kMustCommit, kMustCommit, kMustCommit,
                                    kEither};

struct TxRecord {
    Kind kind;
    bool committed;
    uint32_t effective;    // bit i: tenant i
    uint32_t rolled_back;  // bit i: tenant i, written only in a rolled-back savepoint
};

struct ThreadResult {
    std::vector<TxRecord> txs;
    long ryw_violations = 0;        // committed, but the observer did not see a bump yet
    long monotonic_violations = 0;  // a version seen to decrease
    long unexpected_errors = 0;     // errors the workload did not plan
    long unexpected_outcomes = 0;   // a must-commit kind aborted or the reverse
    long serialization_failures_at_commit = 0;
    long serialization_failures_before_commit = 0;
    long model_mismatches = 0;  // RETURNING disagreed with the thread's model
    std::vector<std::string> problems;  // first few, for the failure message
    void problem(const std::string &what) {
        if (problems.size() < 8)
            problems.push_back(what);
    }
};

int popcount(uint32_t x) { return __builtin_popcount(x); }

std::string mask_str(uint32_t m) {
    std::string s = "{";
    for (int i = 0; i <= kTenants; i++)
        if (m & (1u << i))
            s += (s.size() > 1 ? "," : "") + std::to_string(i);
    return s + "}";
}

// One writer thread: its sessions, its model of its rows, its ledger.
class Writer {
  public:
    Writer(int index, std::string table, std::string domain, std::vector<std::string> tenants,
           ThreadResult &out)
        : k_(index),
          table_(std::move(table)),
          domain_(std::move(domain)),
          tenants_(std::move(tenants)),
          out_(out),
          rng_(std::random_device{}() ^ (uint64_t(index + 1) * 0x9E3779B97F4A7C15ULL)) {
        for (int i = 0; i < kTenants; i++)
            tenant_index_[tenants_[i]] = i;
        std::vector<std::string> all = tenants_;
        all.push_back(kAllTenants);
        pairs_literal_ = soak::array_literal(all);
        last_seen_.assign(kTenants + 1, 0);
    }

    // Rows created by the test before the threads start.
    void add_initial_row(long long id, int tenant) { model_add(id, tenant); }
    long long next_id() { return ++last_id_; }
    void set_first_id(long long id) { last_id_ = id; }

    void run(Clock::time_point deadline) {
        main_ = std::make_unique<soak::Session>(connect());
        partner_ = std::make_unique<soak::Session>(connect());
        observer_ = std::make_unique<soak::Session>(connect());
        for (auto *s : {main_.get(), partner_.get()}) {
            s->exec("SET fraiseql_cache.wait_for_bump = on");
            if (s->exec("SHOW fraiseql_cache.wait_for_bump")[0][0].as<std::string>() != "on")
                throw std::runtime_error("wait_for_bump is not on");
            // The I6 checks need every wait to end in publication: at the
            // 1 s default a loaded machine can make one run out (counted in
            // wait_timeouts, which must stay 0).
            s->exec("SET fraiseql_cache.wait_timeout_ms = 60000");
        }
        std::discrete_distribution<int> pick_kind(std::begin(kKindWeight), std::end(kKindWeight));
        while (Clock::now() < deadline) {
            Kind kind = Kind(pick_kind(rng_));
            std::vector<long long> before = observe({}).first;
            check_monotonic(before);
            std::vector<Attempt> attempts;
            run_kind(kind, attempts);
            std::vector<std::string> xids;
            for (const auto &a : attempts)
                xids.push_back(a.xid);
            auto [after, status] = observe(xids);
            check_monotonic(after);
            for (std::size_t i = 0; i < attempts.size(); i++)
                settle(attempts[i], status[i], before, after);
        }
    }

  private:
    struct Op {
        enum Type { kAdd, kRemove, kMoveTo } type;
        long long id;
        int tenant;
    };
    // One server transaction of a workload step.
    struct Attempt {
        Kind kind;
        std::string xid;
        uint32_t effective = 0;
        uint32_t rolled_back = 0;
        std::vector<Op> ops;  // model changes, applied if it committed
    };

    // ---- model -----------------------------------------------------------

    void model_add(long long id, int tenant) {
        rows_.push_back(id);
        tenant_of_[id] = tenant;
    }
    void model_remove(long long id) {
        rows_.erase(std::find(rows_.begin(), rows_.end(), id));
        tenant_of_.erase(id);
    }
    int rows_in(int tenant) const {
        int n = 0;
        for (const auto &[id, t] : tenant_of_)
            n += t == tenant;
        return n;
    }
    int rand_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    long long random_row() {
        for (;;) {
            long long id = rows_[std::size_t(rand_int(0, int(rows_.size()) - 1))];
            if (!avoid_.count(id))
                return id;
        }
    }
    long long random_row_of(int tenant) {
        std::vector<long long> ids;
        for (const auto &[id, t] : tenant_of_)
            if (t == tenant && !avoid_.count(id))
                ids.push_back(id);
        return ids[std::size_t(rand_int(0, int(ids.size()) - 1))];
    }
    int random_tenant_except(uint32_t excluded) {
        std::vector<int> choice;
        for (int i = 0; i < kTenants; i++)
            if (!(excluded & (1u << i)))
                choice.push_back(i);
        return choice[std::size_t(rand_int(0, int(choice.size()) - 1))];
    }
    // A row whose removal leaves its tenant with a row of this thread (every
    // tenant always has one, so "a row of tenant b" always exists).
    long long removable_row() {
        std::vector<long long> ids;
        for (const auto &[id, t] : tenant_of_)
            if (rows_in(t) >= 2)
                ids.push_back(id);
        if (ids.empty())
            return 0;
        return ids[std::size_t(rand_int(0, int(ids.size()) - 1))];
    }

    // ---- statements ------------------------------------------------------

    uint32_t mask_of(const pqxx::result &r, int columns = 1) {
        uint32_t m = 0;
        for (const auto &row : r)
            for (int c = 0; c < columns; c++) {
                auto it = tenant_index_.find(row[c].as<std::string>());
                if (it == tenant_index_.end())
                    throw std::runtime_error("RETURNING gave an unknown tenant");
                m |= 1u << it->second;
            }
        return m;
    }
    void expect_rows(const pqxx::result &r, std::size_t n, const char *what) {
        if (r.size() != n) {
            out_.model_mismatches++;
            out_.problem(std::string(what) + ": " + std::to_string(r.size()) + " rows, expected " +
                         std::to_string(n));
        }
    }

    std::string begin(soak::Session &s, const char *isolation = nullptr) {
        s.exec(isolation ? std::string("BEGIN ISOLATION LEVEL ") + isolation : "BEGIN");
        return s.exec("SELECT pg_current_xact_id()::text")[0][0].as<std::string>();
    }

    uint32_t update_row(soak::Session &s, long long id) {
        auto r = s.exec_params("UPDATE " + table_ +
                                   " SET val = val + 1 WHERE id = $1 RETURNING tenant_id::text",
                               id);
        expect_rows(r, 1, "update_row");
        if (r.size() == 1 && mask_of(r) != (1u << tenant_of_[id])) {
            out_.model_mismatches++;
            out_.problem("update_row: tenant differs from the model");
        }
        return mask_of(r);
    }
    uint32_t update_tenants(soak::Session &s, const std::vector<int> &tenants) {
        std::vector<std::string> ids;
        std::size_t expected = 0;
        uint32_t want = 0;
        for (int t : tenants) {
            ids.push_back(tenants_[t]);
            expected += std::size_t(rows_in(t));
            want |= 1u << t;
        }
        auto r = s.exec_params("UPDATE " + table_ +
                                   " SET val = val + 1 WHERE owner = $1 "
                                   "AND tenant_id = ANY($2::uuid[]) RETURNING tenant_id::text",
                               k_, soak::array_literal(ids));
        expect_rows(r, expected, "update_tenants");
        uint32_t m = mask_of(r);
        if (m != want) {
            out_.model_mismatches++;
            out_.problem("update_tenants: touched " + mask_str(m) + ", wanted " + mask_str(want));
        }
        return m;
    }
    uint32_t insert_row(soak::Session &s, int tenant, std::vector<Op> &ops, long long id = 0) {
        if (id == 0)
            id = next_id();
        auto r = s.exec_params("INSERT INTO " + table_ +
                                   " (id, owner, tenant_id) VALUES ($1, $2, $3::uuid) "
                                   "RETURNING tenant_id::text",
                               id, k_, tenants_[tenant]);
        expect_rows(r, 1, "insert_row");
        ops.push_back({Op::kAdd, id, tenant});
        return mask_of(r);
    }
    uint32_t delete_row(soak::Session &s, long long id, std::vector<Op> &ops) {
        auto r = s.exec_params(
            "DELETE FROM " + table_ + " WHERE id = $1 RETURNING tenant_id::text", id);
        expect_rows(r, 1, "delete_row");
        ops.push_back({Op::kRemove, id, 0});
        return mask_of(r);
    }
    uint32_t move_row(soak::Session &s, long long id, int to, std::vector<Op> &ops) {
        auto r = s.exec_params("UPDATE " + table_ +
                                   " t SET tenant_id = $2::uuid, val = t.val + 1 "
                                   "FROM (SELECT id, tenant_id AS old FROM " +
                                   table_ +
                                   " WHERE id = $1) o WHERE t.id = o.id "
                                   "RETURNING o.old::text, t.tenant_id::text",
                               id, tenants_[to]);
        expect_rows(r, 1, "move_row");
        ops.push_back({Op::kMoveTo, id, to});
        return mask_of(r, 2);
    }
    // A statement that fails: a CHECK violation raised after the row
    // trigger fired for the row (its tenant is recorded by the product), or
    // a division by zero (no row involved).
    void failing_statement(soak::Session &s, long long id_or_zero) {
        try {
            if (id_or_zero != 0)
                s.exec_params("UPDATE " + table_ + " SET val = -1 WHERE id = $1", id_or_zero);
            else
                s.exec("SELECT 1/0");
        } catch (const pqxx::sql_error &e) {
            const std::string state = e.sqlstate();
            if (state != "23514" && state != "22012")
                throw;
            return;
        }
        throw std::runtime_error("the failing statement succeeded");
    }
    // A random write (update, insert or delete) to a tenant not in
    // `excluded`. At most one row is removed per transaction, from a tenant
    // with two rows or more; rows removed in this transaction are not
    // picked again.
    uint32_t random_write(soak::Session &s, std::vector<Op> &ops, uint32_t excluded = 0) {
        int tenant = random_tenant_except(excluded);
        int what = rand_int(0, 9);
        if (what < 6)
            return update_row(s, random_row_of(tenant));
        if (what < 9 || !avoid_.empty() || rows_in(tenant) < 2) {
            if (rows_.size() + ops.size() < kMaxRowsPerThread)
                return insert_row(s, tenant, ops);
            return update_row(s, random_row_of(tenant));
        }
        long long victim = random_row_of(tenant);
        avoid_.insert(victim);
        return delete_row(s, victim, ops);
    }

    // ---- the workload ----------------------------------------------------

    void run_kind(Kind kind, std::vector<Attempt> &attempts) {
        soak::Session &m = *main_;
        avoid_.clear();
        // Keep the thread's row count bounded (and a row in every tenant).
        if (kind == kInsert && rows_.size() >= kMaxRowsPerThread)
            kind = kDelete;
        Attempt a;
        a.kind = kind;
        bool in_tx = false;
        try {
            switch (kind) {
                case kUpdateOne:
                    a.xid = begin(m);
                    in_tx = true;
                    a.effective |= update_row(m, random_row());
                    m.exec("COMMIT");
                    break;
                case kUpdateMulti: {
                    std::vector<int> all(kTenants);
                    for (int i = 0; i < kTenants; i++)
                        all[i] = i;
                    std::shuffle(all.begin(), all.end(), rng_);
                    all.resize(std::size_t(rand_int(2, 3)));
                    a.xid = begin(m);
                    in_tx = true;
                    a.effective |= update_tenants(m, all);
                    m.exec("COMMIT");
                    break;
                }
                case kDelete:
                    if (long long id = removable_row(); id != 0) {
                        a.xid = begin(m);
                        in_tx = true;
                        a.effective |= delete_row(m, id, a.ops);
                        m.exec("COMMIT");
                        break;
                    }
                    a.kind = kind = kInsert;
                    [[fallthrough]];
                case kInsert: {
                    a.xid = begin(m);
                    in_tx = true;
                    int n = rows_.size() < kMaxRowsPerThread ? rand_int(1, 3) : 1;
                    int t1 = rand_int(0, kTenants - 1), t2 = rand_int(0, kTenants - 1);
                    for (int i = 0; i < n; i++)
                        a.effective |= insert_row(m, i % 2 ? t2 : t1, a.ops);
                    m.exec("COMMIT");
                    break;
                }
                case kMove: {
                    long long id = removable_row();
                    if (id == 0)
                        id = random_row();
                    int from = tenant_of_[id];
                    if (rows_in(from) < 2) {  // keep a row in every tenant
                        a.xid = begin(m);
                        in_tx = true;
                        a.effective |= update_row(m, id);
                        m.exec("COMMIT");
                        break;
                    }
                    a.xid = begin(m);
                    in_tx = true;
                    a.effective |= move_row(m, id, random_tenant_except(1u << from), a.ops);
                    m.exec("COMMIT");
                    break;
                }
                case kRollback: {
                    a.xid = begin(m);
                    in_tx = true;
                    for (int i = rand_int(1, 3); i > 0; i--)
                        a.effective |= random_write(m, a.ops);
                    m.exec("ROLLBACK");
                    break;
                }
                case kErrorThenRollback:
                case kErrorThenCommit: {
                    a.xid = begin(m);
                    in_tx = true;
                    for (int i = rand_int(1, 2); i > 0; i--)
                        a.effective |= random_write(m, a.ops);
                    failing_statement(m, rand_int(0, 2) ? random_row() : 0);
                    // The server now refuses everything but the end of the
                    // transaction; COMMIT answers ROLLBACK (no error).
                    m.exec(kind == kErrorThenCommit ? "COMMIT" : "ROLLBACK");
                    break;
                }
                case kDeferredFail: {
                    a.xid = begin(m);
                    in_tx = true;
                    a.effective |= update_row(m, random_row());
                    // A second row with an existing id, of another tenant:
                    // allowed until COMMIT checks the deferred primary key.
                    long long dup = random_row();
                    int tenant = random_tenant_except(1u << tenant_of_[dup]);
                    std::vector<Op> ignored;
                    a.effective |= insert_row(m, tenant, ignored, dup);
                    try {
                        m.exec("COMMIT");
                    } catch (const pqxx::sql_error &e) {
                        in_tx = false;
                        if (e.sqlstate() != "23505")
                            throw;
                        break;
                    }
                    in_tx = false;
                    out_.unexpected_errors++;
                    out_.problem("a duplicate key under a deferred PK committed");
                    break;
                }
                case kSavepointRollback:
                case kSavepointError:
                case kSavepointRelease: {
                    a.xid = begin(m);
                    in_tx = true;
                    a.effective |= random_write(m, a.ops);
                    m.exec("SAVEPOINT sp");
                    std::vector<Op> inner;
                    const int b = random_tenant_except(a.effective);
                    uint32_t written = 0;
                    if (kind == kSavepointError) {
                        long long row = random_row_of(b);
                        written |= update_row(m, row);
                        // The trigger fires for the row, then the CHECK fails.
                        failing_statement(m, row);
                    } else {
                        written |= random_write(m, inner, ~(1u << b) & ((1u << kTenants) - 1));
                    }
                    if (kind == kSavepointRelease) {
                        m.exec("RELEASE SAVEPOINT sp");
                        a.effective |= written;
                        a.ops.insert(a.ops.end(), inner.begin(), inner.end());
                    } else {
                        m.exec("ROLLBACK TO SAVEPOINT sp");
                        a.rolled_back |= written;
                        if (rand_int(0, 1))
                            a.effective |= random_write(m, a.ops, 1u << b);
                    }
                    m.exec("COMMIT");
                    break;
                }
                case kSerializable:
                    run_write_skew(attempts);
                    return;
                case kKinds:
                    break;
            }
        } catch (const std::exception &e) {
            out_.unexpected_errors++;
            out_.problem(std::string(kKindName[kind]) + ": " + e.what());
            if (in_tx)
                try_rollback(m);
        }
        if (!a.xid.empty())
            attempts.push_back(std::move(a));
    }

    void try_rollback(soak::Session &s) {
        try {
            s.exec("ROLLBACK");
        } catch (const std::exception &) {
        }
    }

    // Two SERIALIZABLE transactions of this thread, on its two sessions:
    // T1 reads X and writes Y, T2 reads Y and writes X (tenants differ).
    // SSI lets at most one commit; typically T2 fails at COMMIT ("canceled on
    // identification as a pivot, during commit attempt"), i.e. after the
    // pre-commit phase: its trigger-recorded pair must still count nothing.
    void run_write_skew(std::vector<Attempt> &attempts) {
        soak::Session &s1 = *main_, &s2 = *partner_;
        long long x = random_row();
        long long y = random_row_of(random_tenant_except(1u << tenant_of_[x]));
        Attempt t1{kSerializable, "", 0, 0, {}}, t2{kSerializable, "", 0, 0, {}};
        bool open1 = false, open2 = false;
        auto fail = [&](const std::exception &e, bool at_commit) {
            // libpqxx 6 throws serialization_failure, which carries no
            // SQLSTATE (it is not an sql_error there).
            if (sqlstate_of(e) == "40001" ||
                dynamic_cast<const pqxx::serialization_failure *>(&e) != nullptr) {
                (at_commit ? out_.serialization_failures_at_commit
                           : out_.serialization_failures_before_commit)++;
            } else {
                out_.unexpected_errors++;
                out_.problem(std::string("serializable: ") + e.what());
            }
        };
        try {
            t1.xid = begin(s1, "SERIALIZABLE");
            open1 = true;
            s1.exec_params("SELECT val FROM " + table_ + " WHERE id = $1", x);
            t2.xid = begin(s2, "SERIALIZABLE");
            open2 = true;
            s2.exec_params("SELECT val FROM " + table_ + " WHERE id = $1", y);
            t1.effective |= update_row(s1, y);
        } catch (const std::exception &e) {
            fail(e, false);
            if (open1)
                try_rollback(s1);
            if (open2)
                try_rollback(s2);
            open1 = open2 = false;
        }
        if (open2) {
            try {
                t2.effective |= update_row(s2, x);
            } catch (const std::exception &e) {
                fail(e, false);
                try_rollback(s2);
                open2 = false;
            }
        }
        if (open1) {
            try {
                s1.exec("COMMIT");
            } catch (const std::exception &e) {
                fail(e, true);
            }
        }
        if (open2) {
            try {
                s2.exec("COMMIT");
            } catch (const std::exception &e) {
                fail(e, true);
            }
        }
        if (!t1.xid.empty())
            attempts.push_back(t1);
        if (!t2.xid.empty())
            attempts.push_back(t2);
    }

    // ---- observation -----------------------------------------------------

    // Versions of the kTenants pairs and the all-tenants pair, and the
    // status of the given xids, in one round trip on the observer session.
    std::pair<std::vector<long long>, std::vector<std::string>> observe(
        const std::vector<std::string> &xids) {
        auto r = observer_->exec_params(
            "SELECT 0, n::int, fraiseql_cache.current_version(u::uuid, $1)::text "
            "FROM unnest($2::text[]) WITH ORDINALITY a(u, n) "
            "UNION ALL "
            "SELECT 1, n::int, coalesce(pg_xact_status(x::xid8), 'unknown') "
            "FROM unnest($3::text[]) WITH ORDINALITY b(x, n)",
            domain_, pairs_literal_, soak::array_literal(xids));
        std::vector<long long> v(kTenants + 1, -1);
        std::vector<std::string> status(xids.size());
        for (const auto &row : r) {
            std::size_t n = std::size_t(row[1].as<int>() - 1);
            if (row[0].as<int>() == 0)
                v.at(n) = row[2].as<long long>();
            else
                status.at(n) = row[2].as<std::string>();
        }
        return {v, status};
    }

    void check_monotonic(const std::vector<long long> &v) {
        for (int i = 0; i <= kTenants; i++) {
            if (v[i] < last_seen_[i]) {
                out_.monotonic_violations++;
                out_.problem("pair " + std::to_string(i) + " went from " +
                             std::to_string(last_seen_[i]) + " to " + std::to_string(v[i]));
            }
            last_seen_[i] = std::max(last_seen_[i], v[i]);
        }
    }

    void settle(const Attempt &a, const std::string &status, const std::vector<long long> &before,
                const std::vector<long long> &after) {
        const bool committed = status == "committed";
        if (!committed && status != "aborted") {
            out_.unexpected_errors++;
            out_.problem("xid " + a.xid + " status " + status + " after it ended");
        }
        const Expect want = kKindExpect[a.kind];
        if ((want == kMustCommit && !committed) || (want == kMustAbort && committed)) {
            out_.unexpected_outcomes++;
            out_.problem(std::string(kKindName[a.kind]) + " ended " + status);
        }
        out_.txs.push_back({a.kind, committed, a.effective, a.rolled_back});
        if (!committed)
            return;
        for (const auto &op : a.ops) {
            if (op.type == Op::kAdd)
                model_add(op.id, op.tenant);
            else if (op.type == Op::kRemove)
                model_remove(op.id);
            else
                tenant_of_[op.id] = op.tenant;
        }
        // I6: COMMIT has returned; another session must already see it.
        uint32_t must_move = a.effective | (a.effective ? (1u << kAll) : 0u);
        for (int i = 0; i <= kTenants; i++) {
            if ((must_move & (1u << i)) && after[i] <= before[i]) {
                out_.ryw_violations++;
                out_.problem(std::string(kKindName[a.kind]) + " xid " + a.xid + ": pair " +
                             std::to_string(i) + " still " + std::to_string(after[i]) +
                             " after COMMIT returned (before " + std::to_string(before[i]) + ")");
            }
        }
    }

    const int k_;
    const std::string table_, domain_;
    const std::vector<std::string> tenants_;
    ThreadResult &out_;
    std::mt19937_64 rng_;
    std::map<std::string, int> tenant_index_;
    std::string pairs_literal_;
    std::vector<long long> last_seen_;
    std::vector<long long> rows_;
    std::map<long long, int> tenant_of_;
    std::set<long long> avoid_;  // rows removed by the current transaction
    long long last_id_ = 0;
    std::unique_ptr<soak::Session> main_, partner_, observer_;
};

class Soak : public IntegrationTest {};

TEST_F(Soak, VersionsCountCommittedTransactionsExactly) {
    const int seconds_to_run = soak::soak_seconds();
    const std::string t = table_name("");
    const std::string d = domain_of(t);
    // A deferred primary key lets a duplicate id fail at COMMIT; the CHECK
    // fails an UPDATE after its BEFORE row trigger ran.
    create_table(t,
                 "(id bigint PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, owner int NOT NULL, "
                 "tenant_id uuid NOT NULL, val bigint NOT NULL DEFAULT 0 CHECK (val >= 0))");
    exec(*conn_, "CREATE INDEX ON " + t + " (owner, tenant_id)");
    track(t);
    ASSERT_EQ(query_ll(*conn_, "SELECT count(*) FROM fraiseql_cache.cascade_rules WHERE "
                               "source_domain = " + conn_->quote(d)),
              0);

    std::vector<std::string> tenants(kTenants);
    for (auto &x : tenants)
        x = new_uuid();

    std::array<ThreadResult, kWriters> results;
    std::vector<std::unique_ptr<Writer>> writers;
    {
        std::string values;
        for (int k = 0; k < kWriters; k++) {
            writers.push_back(std::make_unique<Writer>(k, t, d, tenants, results[k]));
            writers[k]->set_first_id(k * kIdStride);
            for (int j = 0; j < kTenants; j++)
                for (int r = 0; r < kInitialRowsPerTenant; r++) {
                    long long id = writers[k]->next_id();
                    writers[k]->add_initial_row(id, j);
                    values += std::string(values.empty() ? "" : ", ") + "(" + std::to_string(id) +
                              ", " + std::to_string(k) + ", '" + tenants[j] + "')";
                }
        }
        exec(*conn_, "INSERT INTO " + t + " (id, owner, tenant_id) VALUES " + values);
    }

    std::vector<long long> before(kTenants + 1);
    for (int j = 0; j < kTenants; j++)
        before[j] = version(*conn_, tenants[j], d);
    before[kAll] = version(*conn_, kAllTenants, d);
    const auto stats_before = read_counters(*conn_);

    std::atomic<int> thread_failures{0};
    std::mutex mu;
    std::string thread_error;
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    const auto deadline = start + seconds(seconds_to_run);
    for (int k = 0; k < kWriters; k++) {
        threads.emplace_back([&, k] {
            try {
                writers[k]->run(deadline);
            } catch (const std::exception &e) {
                thread_failures++;
                std::lock_guard<std::mutex> g(mu);
                thread_error += "writer " + std::to_string(k) + ": " + e.what() + "\n";
            }
        });
    }
    for (auto &th : threads)
        th.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const auto stats_after = read_counters(*conn_);
    EXPECT_EQ(thread_failures.load(), 0) << thread_error;

    // ---- the ledger ----
    std::array<long long, kTenants> expected{};  // effective ∪ rolled_back, committed
    std::array<long long, kTenants> lower{};     // effective only (for the report)
    long long commits = 0, aborts = 0, savepoint_txs = 0, savepoint_rb_txs = 0,
              empty_commits = 0, rolled_back_only_pairs = 0;
    std::array<std::array<long long, 2>, kKinds> by_kind{};
    long ryw = 0, mono = 0, unexpected_errors = 0, unexpected_outcomes = 0, mismatches = 0,
         ser_commit = 0, ser_before = 0;
    std::string problems;
    for (const auto &r : results) {
        ryw += r.ryw_violations;
        mono += r.monotonic_violations;
        unexpected_errors += r.unexpected_errors;
        unexpected_outcomes += r.unexpected_outcomes;
        mismatches += r.model_mismatches;
        ser_commit += r.serialization_failures_at_commit;
        ser_before += r.serialization_failures_before_commit;
        for (const auto &p : r.problems)
            problems += "\n  " + p;
        for (const auto &tx : r.txs) {
            by_kind[tx.kind][tx.committed ? 0 : 1]++;
            if (tx.kind == kSavepointRollback || tx.kind == kSavepointError ||
                tx.kind == kSavepointRelease)
                savepoint_txs++;
            if (!tx.committed) {
                aborts++;
                continue;
            }
            commits++;
            if (tx.rolled_back)
                savepoint_rb_txs++;
            const uint32_t counted = tx.effective | tx.rolled_back;
            if (tx.effective == 0)
                empty_commits++;
            rolled_back_only_pairs += popcount(tx.rolled_back & ~tx.effective);
            for (int j = 0; j < kTenants; j++) {
                expected[j] += (counted >> j) & 1;
                lower[j] += (tx.effective >> j) & 1;
            }
        }
    }
    EXPECT_EQ(ryw, 0) << "committed transactions whose bump another session did not see when "
                         "COMMIT returned (I6)"
                      << problems;
    EXPECT_EQ(mono, 0) << "a version went down" << problems;
    EXPECT_EQ(unexpected_errors, 0) << problems;
    EXPECT_EQ(unexpected_outcomes, 0) << problems;
    EXPECT_EQ(mismatches, 0) << problems;
    EXPECT_EQ(empty_commits, 0) << "every committed transaction changes a row";
    EXPECT_GT(commits, 0);
    EXPECT_GT(aborts, 0);
    EXPECT_GT(savepoint_rb_txs, 0);

    // ---- the exact formula ----
    long long sum_delta = 0, sum_expected = 0;
    for (int j = 0; j < kTenants; j++) {
        const long long delta = version(*conn_, tenants[j], d) - before[j];
        sum_delta += delta;
        sum_expected += expected[j];
        EXPECT_EQ(delta, expected[j])
            << "tenant " << j << ": version increase vs committed transactions touching it "
            << "(effective ∪ rolled-back savepoint); effective only: " << lower[j];
        EXPECT_EQ(persisted_version(*conn_, tenants[j], d), version(*conn_, tenants[j], d))
            << "domain_version vs current_version(), tenant " << j;
    }
    const long long delta_all = version(*conn_, kAllTenants, d) - before[kAll];
    EXPECT_EQ(delta_all, commits)
        << "all-tenants pair: one step per committed transaction (tenant pairs: "
        << sum_delta << " steps for " << sum_expected << " expected)";
    EXPECT_EQ(persisted_version(*conn_, kAllTenants, d), version(*conn_, kAllTenants, d))
        << "domain_version vs current_version(), all-tenants pair";
    // A reset (ring overflow) bumps everything once more: the formula would
    // not hold, and with this load it must not happen. A wait timeout would
    // weaken the I6 check.
    EXPECT_EQ(stats_after.at("overflows") - stats_before.at("overflows"), 0);
    EXPECT_EQ(stats_after.at("resets") - stats_before.at("resets"), 0);
    EXPECT_EQ(stats_after.at("wait_timeouts") - stats_before.at("wait_timeouts"), 0);

    // ---- report ----
    const double tps = (commits + aborts) / elapsed;
    RecordProperty("seconds", std::to_string(elapsed));
    RecordProperty("commits", std::to_string(commits));
    RecordProperty("aborts", std::to_string(aborts));
    RecordProperty("savepoint_transactions", std::to_string(savepoint_txs));
    RecordProperty("savepoint_rollback_commits", std::to_string(savepoint_rb_txs));
    RecordProperty("over_invalidated_pairs", std::to_string(rolled_back_only_pairs));
    RecordProperty("transactions_per_second", std::to_string(tps));
    RecordProperty("commits_per_second", std::to_string(commits / elapsed));
    RecordProperty("serialization_failures_at_commit", std::to_string(ser_commit));
    RecordProperty("tenant_version_steps", std::to_string(sum_delta));
    RecordProperty("all_tenants_version_step", std::to_string(delta_all));
    std::ostringstream rep;
    rep << std::fixed << std::setprecision(1);
    rep << "[ soak     ] " << kWriters << " writers x " << kTenants << " tenants, "
        << elapsed << " s: " << commits << " commits, " << aborts << " aborts, "
        << savepoint_txs << " savepoint transactions (" << savepoint_rb_txs
        << " committed with a rolled-back savepoint, " << rolled_back_only_pairs
        << " over-invalidated pairs), " << (commits + aborts) / elapsed << " tx/s ("
        << commits / elapsed << " commits/s)\n";
    rep << "[ soak     ] serialization failures: " << ser_commit << " at COMMIT, " << ser_before
        << " before; tenant steps " << sum_delta << " (expected " << sum_expected
        << "), all-tenants step " << delta_all << " (commits " << commits << ")\n";
    rep << "[ soak     ] worker: " << stats_after.at("batches") - stats_before.at("batches")
        << " batches, " << stats_after.at("transactions") - stats_before.at("transactions")
        << " transactions handed off, ring high water (since server start) "
        << stats_after.at("ring_high_water")
        << ", wait timeouts " << stats_after.at("wait_timeouts") - stats_before.at("wait_timeouts")
        << "\n[ soak     ] per kind (committed/aborted):";
    for (int i = 0; i < kKinds; i++)
        rep << ' ' << kKindName[i] << '=' << by_kind[i][0] << '/' << by_kind[i][1];
    std::cout << rep.str() << std::endl;
}

}  // namespace
}  // namespace fcit
