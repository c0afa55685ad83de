// The worker's SQL against fraiseql_cache.domain_version / worker_state.
#include "pg_fraiseql_cache/persistence.hpp"

#include "pg_fraiseql_cache/boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace fraiseql_cache::persistence {
namespace {

void check(int rc, int expected, const char *sql) {
    if (rc != expected)
        elog(ERROR, "pg_fraiseql_cache: SPI_execute failed (%d): %s", rc, sql);
}

// Plans of the statements every batch runs, prepared once per worker life
// (the plan cache replans them after DDL on their tables).
SPIPlanPtr upsert_plan = nullptr;
SPIPlanPtr rules_plan = nullptr;

SPIPlanPtr prepared(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types) {
    if (*slot == nullptr) {
        SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
        if (plan == nullptr)
            elog(ERROR, "pg_fraiseql_cache: SPI_prepare failed (%d): %s", SPI_result, sql);
        SPI_keepplan(plan);
        *slot = plan;
    }
    return *slot;
}

// Copies one (tenant, domain[, version, last_modified]) result row.
void copy_row(HeapTuple tuple, TupleDesc desc, VersionRow *out) {
    bool isnull = false;
    *out = VersionRow{};
    Datum tenant = SPI_getbinval(tuple, desc, 1, &isnull);
    if (!isnull)
        memcpy(out->tenant.bytes, DatumGetUUIDP(tenant)->data, sizeof out->tenant.bytes);
    Datum domain = SPI_getbinval(tuple, desc, 2, &isnull);
    if (!isnull) {
        text *t = DatumGetTextPP(domain);
        DomainName::from(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &out->domain);
    }
    if (desc->natts >= 3) {
        Datum version = SPI_getbinval(tuple, desc, 3, &isnull);
        out->version = isnull ? 0 : uint64_t(DatumGetInt64(version));
    }
    if (desc->natts >= 4) {
        Datum modified = SPI_getbinval(tuple, desc, 4, &isnull);
        out->last_modified = isnull ? 0 : DatumGetTimestampTz(modified);
    }
}

// Runs a query returning (tenant, domain[, version, last_modified]) rows.
std::vector<VersionRow> query_rows(const char *sql, int nargs, Oid *types, Datum *values,
                                   int expected, SPIPlanPtr *plan_slot = nullptr) {
    uint64_t n = pg_call([&] {
        int rc = plan_slot != nullptr
                     ? SPI_execute_plan(prepared(plan_slot, sql, nargs, types), values, nullptr,
                                        false, 0)
                 : nargs == 0 ? SPI_execute(sql, false, 0)
                              : SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
        check(rc, expected, sql);
        return uint64_t(SPI_processed);
    });
    std::vector<VersionRow> rows(n);
    pg_call([&] {
        for (uint64_t i = 0; i < n; i++)
            copy_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &rows[i]);
    });
    return rows;
}

Datum text_array(const VersionRow *rows, std::size_t n) {
    Datum *items = static_cast<Datum *>(palloc(sizeof(Datum) * (n ? n : 1)));
    for (std::size_t i = 0; i < n; i++)
        items[i] = PointerGetDatum(cstring_to_text_with_len(rows[i].domain.bytes,
                                                             int(rows[i].domain.length())));
    return PointerGetDatum(construct_array(items, int(n), TEXTOID, -1, false, TYPALIGN_INT));
}

}  // namespace

void forget_plans() {
    pg_call([] {
        if (upsert_plan != nullptr)
            SPI_freeplan(upsert_plan);
        if (rules_plan != nullptr)
            SPI_freeplan(rules_plan);
        upsert_plan = nullptr;
        rules_plan = nullptr;
    });
}

void begin(const char *activity) {
    pg_call([&] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "pg_fraiseql_cache: SPI_connect failed");
        PushActiveSnapshot(GetTransactionSnapshot());
        pgstat_report_activity(STATE_RUNNING, activity);
    });
}

void commit() {
    pg_call([&] {
        SPI_finish();
        PopActiveSnapshot();
        CommitTransactionCommand();
        pgstat_report_stat(false);
        pgstat_report_activity(STATE_IDLE, nullptr);
    });
}

uint32_t versions_relation() {
    return pg_call([&] {
        Oid nsp = get_namespace_oid("fraiseql_cache", true);
        return uint32_t(nsp == InvalidOid ? InvalidOid : get_relname_relid("domain_version", nsp));
    });
}

uint32_t rules_relation() {
    return pg_call([&] {
        Oid nsp = get_namespace_oid("fraiseql_cache", true);
        return uint32_t(nsp == InvalidOid ? InvalidOid : get_relname_relid("cascade_rules", nsp));
    });
}

uint32_t extension_oid() {
    return pg_call([&] { return uint32_t(get_extension_oid("pg_fraiseql_cache", true)); });
}

WorkerStateRow read_state() {
    return pg_call([&] {
        const char *sql =
            "SELECT floor, clean_shutdown FROM fraiseql_cache.worker_state WHERE id = 1";
        check(SPI_execute(sql, false, 0), SPI_OK_SELECT, sql);
        WorkerStateRow row{0, true, false};
        if (SPI_processed == 1) {
            row.exists = true;
            bool isnull = false;
            row.floor = uint64_t(DatumGetInt64(
                SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
            row.clean_shutdown = DatumGetBool(
                SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
        }
        return row;
    });
}

void write_state(uint64_t floor, bool clean_shutdown) {
    pg_call([&] {
        const char *sql =
            "INSERT INTO fraiseql_cache.worker_state (id, floor, clean_shutdown) "
            "VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE "
            "SET floor = EXCLUDED.floor, clean_shutdown = EXCLUDED.clean_shutdown";
        Oid types[2] = {INT8OID, BOOLOID};
        Datum values[2] = {Int64GetDatum(int64_t(floor)), BoolGetDatum(clean_shutdown)};
        check(SPI_execute_with_args(sql, 2, types, values, nullptr, false, 0), SPI_OK_INSERT,
              sql);
    });
}

void raise_all(uint64_t amount, uint64_t at_least) {
    pg_call([&] {
        Oid types[2] = {INT8OID, INT8OID};
        Datum values[2] = {Int64GetDatum(int64_t(amount)), Int64GetDatum(int64_t(at_least))};
        const char *sql = "UPDATE fraiseql_cache.domain_version "
                          "SET version = GREATEST(version + $1, $2), last_modified = now()";
        check(SPI_execute_with_args(sql, 2, types, values, nullptr, false, 0), SPI_OK_UPDATE,
              sql);
        sql = "UPDATE fraiseql_cache.domain_floor SET floor = GREATEST(floor + $1, $2)";
        check(SPI_execute_with_args(sql, 2, types, values, nullptr, false, 0), SPI_OK_UPDATE,
              sql);
    });
}

void raise_to(uint64_t floor) {
    pg_call([&] {
        const char *sql = "UPDATE fraiseql_cache.domain_version SET version = $1, "
                          "last_modified = now() WHERE version < $1";
        Oid types[1] = {INT8OID};
        Datum values[1] = {Int64GetDatum(int64_t(floor))};
        check(SPI_execute_with_args(sql, 1, types, values, nullptr, false, 0), SPI_OK_UPDATE,
              sql);
    });
}

std::vector<VersionRow> read_versions() {
    return query_rows("SELECT tenant_id, domain, version, last_modified "
                      "FROM fraiseql_cache.domain_version",
                      0, nullptr, nullptr, SPI_OK_SELECT);
}

std::vector<RuleRow> read_cascade_rules() {
    const char *sql = "SELECT source_domain, target_domain, rule_type = 'invalidate' "
                      "FROM fraiseql_cache.cascade_rules";
    uint64_t n = pg_call([&] {
        SPIPlanPtr plan = prepared(&rules_plan, sql, 0, nullptr);
        check(SPI_execute_plan(plan, nullptr, nullptr, true, 0), SPI_OK_SELECT, sql);
        return uint64_t(SPI_processed);
    });
    std::vector<RuleRow> rules(n);
    pg_call([&] {
        for (uint64_t i = 0; i < n; i++) {
            HeapTuple tuple = SPI_tuptable->vals[i];
            TupleDesc desc = SPI_tuptable->tupdesc;
            bool isnull = false;
            text *source = DatumGetTextPP(SPI_getbinval(tuple, desc, 1, &isnull));
            text *target = DatumGetTextPP(SPI_getbinval(tuple, desc, 2, &isnull));
            DomainName::from(VARDATA_ANY(source), VARSIZE_ANY_EXHDR(source), &rules[i].source);
            DomainName::from(VARDATA_ANY(target), VARSIZE_ANY_EXHDR(target), &rules[i].target);
            rules[i].invalidate = DatumGetBool(SPI_getbinval(tuple, desc, 3, &isnull));
        }
    });
    return rules;
}

std::vector<DomainName> read_global_domains() {
    std::vector<VersionRow> rows =
        query_rows("SELECT NULL::uuid, domain FROM fraiseql_cache.tracked_tables "
                   "WHERE tenant_column IS NULL GROUP BY domain",
                   0, nullptr, nullptr, SPI_OK_SELECT);
    std::vector<DomainName> out;
    out.reserve(rows.size());
    for (const VersionRow &r : rows)
        out.push_back(r.domain);
    return out;
}

std::vector<VersionRow> read_tenants_of(const std::vector<DomainName> &domains) {
    std::vector<VersionRow> as_rows(domains.size());
    for (std::size_t i = 0; i < domains.size(); i++)
        as_rows[i].domain = domains[i];
    Oid types[1] = {TEXTARRAYOID};
    Datum values[1];
    pg_call([&] { values[0] = text_array(as_rows.data(), as_rows.size()); });
    return query_rows("SELECT tenant_id, domain FROM fraiseql_cache.domain_version "
                      "WHERE domain = ANY ($1)",
                      1, types, values, SPI_OK_SELECT);
}

namespace {
// ($1 uuid[], $2 text[], $3 bigint[]) parameters for a set of rows.
void row_arrays(const std::vector<VersionRow> &rows, Datum *values) {
    const std::size_t n = rows.size();
    pg_call([&] {
        Datum *tenants = static_cast<Datum *>(palloc(sizeof(Datum) * (n ? n : 1)));
        Datum *versions = static_cast<Datum *>(palloc(sizeof(Datum) * (n ? n : 1)));
        for (std::size_t i = 0; i < n; i++) {
            auto *u = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
            memcpy(u->data, rows[i].tenant.bytes, UUID_LEN);
            tenants[i] = UUIDPGetDatum(u);
            versions[i] = Int64GetDatum(int64_t(rows[i].version));
        }
        values[0] = PointerGetDatum(
            construct_array(tenants, int(n), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
        values[1] = text_array(rows.data(), n);
        values[2] = PointerGetDatum(
            construct_array(versions, int(n), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    });
}

// Runs sql with ($1 uuid[], $2 text[], $3 bigint[]) built from rows.
void execute_with_rows(const char *sql, const std::vector<VersionRow> &rows, int expected) {
    Oid types[3] = {UUIDARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
    Datum values[3];
    row_arrays(rows, values);
    pg_call([&] {
        check(SPI_execute_with_args(sql, 3, types, values, nullptr, false, 0), expected, sql);
    });
}
}  // namespace

std::vector<VersionRow> read_domain_owners() {
    return query_rows("SELECT NULL::uuid, d.domain, "
                      "       CASE WHEN a.rolsuper THEN 0 ELSE d.owner::oid::bigint END "
                      "  FROM fraiseql_cache.domains d "
                      "  LEFT JOIN pg_catalog.pg_authid a ON a.oid = d.owner::oid",
                      0, nullptr, nullptr, SPI_OK_SELECT);
}

std::vector<VersionRow> read_domain_floors() {
    return query_rows("SELECT NULL::uuid, domain, floor FROM fraiseql_cache.domain_floor", 0,
                      nullptr, nullptr, SPI_OK_SELECT);
}

void raise_domain_floors(const std::vector<VersionRow> &rows) {
    execute_with_rows("INSERT INTO fraiseql_cache.domain_floor AS f (domain, floor) "
                      "SELECT d, v FROM unnest($2, $3) AS u(d, v) "
                      "ON CONFLICT (domain) DO UPDATE "
                      "SET floor = GREATEST(f.floor, EXCLUDED.floor)",
                      rows, SPI_OK_INSERT);
}

std::vector<DomainScope> read_scopes(const std::vector<DomainName> &domains) {
    std::vector<VersionRow> as_rows(domains.size());
    for (std::size_t i = 0; i < domains.size(); i++)
        as_rows[i].domain = domains[i];
    Oid types[1] = {TEXTARRAYOID};
    Datum values[1];
    pg_call([&] { values[0] = text_array(as_rows.data(), as_rows.size()); });
    const char *sql =
        "SELECT d, "
        "  EXISTS (SELECT 1 FROM fraiseql_cache.tracked_tables t WHERE t.domain = d), "
        "  EXISTS (SELECT 1 FROM fraiseql_cache.tracked_tables t "
        "           WHERE t.domain = d AND t.tenant_column IS NULL), "
        "  EXISTS (SELECT 1 FROM fraiseql_cache.domain_version v "
        "           WHERE v.domain = d AND v.tenant_id = '00000000-0000-0000-0000-000000000000'), "
        "  GREATEST((SELECT max(v.version) FROM fraiseql_cache.domain_version v WHERE v.domain = d), "
        "           (SELECT f.floor FROM fraiseql_cache.domain_floor f WHERE f.domain = d), 0) "
        "FROM (SELECT DISTINCT d FROM unnest($1) AS u(d)) s";
    uint64_t n = pg_call([&] {
        check(SPI_execute_with_args(sql, 1, types, values, nullptr, true, 0), SPI_OK_SELECT, sql);
        return uint64_t(SPI_processed);
    });
    std::vector<DomainScope> out(n);
    pg_call([&] {
        for (uint64_t i = 0; i < n; i++) {
            HeapTuple tuple = SPI_tuptable->vals[i];
            TupleDesc desc = SPI_tuptable->tupdesc;
            bool isnull = false;
            text *d = DatumGetTextPP(SPI_getbinval(tuple, desc, 1, &isnull));
            DomainName::from(VARDATA_ANY(d), VARSIZE_ANY_EXHDR(d), &out[i].domain);
            out[i].tracked = DatumGetBool(SPI_getbinval(tuple, desc, 2, &isnull));
            out[i].global = DatumGetBool(SPI_getbinval(tuple, desc, 3, &isnull));
            out[i].has_all_row = DatumGetBool(SPI_getbinval(tuple, desc, 4, &isnull));
            out[i].highest = uint64_t(DatumGetInt64(SPI_getbinval(tuple, desc, 5, &isnull)));
        }
    });
    return out;
}

void insert_missing(const std::vector<VersionRow> &rows) {
    execute_with_rows("INSERT INTO fraiseql_cache.domain_version "
                      "  (tenant_id, domain, version, last_modified) "
                      "SELECT t, d, v, now() FROM unnest($1, $2, $3) AS u(t, d, v) "
                      "ON CONFLICT (tenant_id, domain) DO NOTHING",
                      rows, SPI_OK_INSERT);
}

std::vector<VersionRow> upsert(const std::vector<VersionRow> &proposed) {
    Oid types[4] = {UUIDARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
    Datum values[4];
    row_arrays(proposed, values);
    pg_call([&] {
        Datum *steps = static_cast<Datum *>(palloc(sizeof(Datum) * (proposed.size() + 1)));
        for (std::size_t i = 0; i < proposed.size(); i++)
            steps[i] = Int64GetDatum(int64_t(proposed[i].step));
        values[3] = PointerGetDatum(construct_array(steps, int(proposed.size()), INT8OID, 8,
                                                    FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    });
    // Existing rows move by their step from whichever is higher, the row or
    // the worker's belief; missing rows are inserted (a registration racing
    // in between is stepped over, never overwritten downwards).
    return query_rows(
        "WITH u AS (SELECT * FROM unnest($1, $2, $3, $4) AS u(t, d, v, step)), "
        "upd AS (UPDATE fraiseql_cache.domain_version dv "
        "           SET version = GREATEST(dv.version, u.v - u.step) + u.step, "
        "               last_modified = now() "
        "          FROM u WHERE dv.tenant_id = u.t AND dv.domain = u.d "
        "      RETURNING dv.tenant_id, dv.domain, dv.version, dv.last_modified), "
        "ins AS (INSERT INTO fraiseql_cache.domain_version AS dv "
        "          (tenant_id, domain, version, last_modified) "
        "        SELECT u.t, u.d, u.v, now() FROM u "
        "         WHERE NOT EXISTS (SELECT 1 FROM fraiseql_cache.domain_version x "
        "                            WHERE x.tenant_id = u.t AND x.domain = u.d) "
        "        ON CONFLICT (tenant_id, domain) DO UPDATE "
        "           SET version = GREATEST(dv.version + 1, EXCLUDED.version), "
        "               last_modified = EXCLUDED.last_modified "
        "      RETURNING dv.tenant_id, dv.domain, dv.version, dv.last_modified) "
        "SELECT * FROM upd UNION ALL SELECT * FROM ins",
        4, types, values, SPI_OK_SELECT, &upsert_plan);
}

}  // namespace fraiseql_cache::persistence
