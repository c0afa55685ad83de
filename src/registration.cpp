// Registration of tracked tables and ownership of domains.
//
// setup_table_invalidation() runs as its caller, creates the triggers (the
// caller owns the table) and then calls _register_table(), which decides who
// may attach the table to the domain and writes the bookkeeping as the
// extension owner:
//   - a domain belongs to the owner of the first table tracked under it
//     (fraiseql_cache.domains; a superuser can hand it to another role with
//     set_domain_owner());
//   - only a role with the privileges of the domain's owner (the owner, a
//     member of it, a superuser) may attach tables to it, change its scope
//     (a global table) or bump it by hand;
//   - a role other than a superuser owns at most max_domains_per_role domains.
// Nothing is written to domain_version here: the worker registers the domain
// when the transaction commits (a registration in the ring), so no row the
// worker writes is ever locked by a user transaction.
//
// C-style code: errors propagate as PostgreSQL errors; nothing here owns C++
// resources.
#include "pg_fraiseql_cache/domain_names.hpp"
#include "pg_fraiseql_cache/catalog.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/pending.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/acl.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/varlena.h"
}

using namespace fraiseql_cache;

namespace {

void record_registration(const DomainName &domain, bool global) {
    uint32_t id = pending::intern_domain(domain.bytes, domain.length(), global);
    if (id == pending::kNoDomain || !pending::ensure_ready() ||
        !pending::record(pending::Recorded{id, false, false, true}, TenantId::all()))
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

// The domain's owner, InvalidOid when it has none yet. Runs under SPI.
Oid domain_owner(const char *domain) {
    Oid types[1] = {TEXTOID};
    Datum values[1] = {PointerGetDatum(cstring_to_text(domain))};
    if (SPI_execute_with_args("SELECT owner::oid FROM fraiseql_cache.domains WHERE domain = $1",
                              1, types, values, nullptr, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "pg_fraiseql_cache: reading fraiseql_cache.domains failed");
    if (SPI_processed == 0)
        return InvalidOid;
    bool isnull = false;
    return DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

// Raises 42501 unless `role` has the privileges of the domain's owner.
void check_domain_access(Oid role, const char *domain, Oid owner, const char *action) {
    if (owner == InvalidOid || has_privs_of_role(role, owner))
        return;
    char *owner_name = GetUserNameFromId(owner, true);
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("permission denied to %s cache domain \"%s\"", action, domain),
             errdetail("The domain belongs to role %s.",
                       owner_name != nullptr ? quote_identifier(owner_name) : "(dropped)"),
             errhint("Its owner or a superuser can do it, or grant the owner role to yours "
                     "(GRANT %s TO ...); otherwise choose another domain name.",
                     owner_name != nullptr ? quote_identifier(owner_name) : "...")));
}

// Claims a new domain for `owner`, within max_domains_per_role.
void claim_domain(const char *domain, Oid owner) {
    Oid types[2] = {TEXTOID, OIDOID};
    Datum values[2] = {PointerGetDatum(cstring_to_text(domain)), ObjectIdGetDatum(owner)};
    if (!superuser_arg(owner) && settings.max_domains_per_role > 0) {
        if (SPI_execute_with_args(
                "SELECT count(*) FROM fraiseql_cache.domains WHERE owner = $2::regrole",
                2, types, values, nullptr, true, 1) != SPI_OK_SELECT)
            elog(ERROR, "pg_fraiseql_cache: counting domains failed");
        bool isnull = false;
        int64 owned = DatumGetInt64(
            SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        if (owned >= settings.max_domains_per_role) {
            count(&Counters::refused_domains);
            ereport(ERROR,
                    (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                     errmsg("role %s already owns %lld cache domains",
                            GetUserNameFromId(owner, false), (long long)owned),
                     errdetail("fraiseql_cache.max_domains_per_role is %d.",
                               settings.max_domains_per_role),
                     errhint("Track more tables under an existing domain, retire unused ones "
                             "with fraiseql_cache.drop_domain(), or have a superuser raise "
                             "the limit.")));
        }
    }
    if (SPI_execute_with_args("INSERT INTO fraiseql_cache.domains (domain, owner) "
                              "VALUES ($1, $2::regrole) ON CONFLICT (domain) DO NOTHING",
                              2, types, values, nullptr, false, 0) != SPI_OK_INSERT)
        elog(ERROR, "pg_fraiseql_cache: registering the domain failed");
}

// Claims the domain if it has no owner, else checks the caller may use it.
// A concurrent first claim waits in the INSERT and then inserts nothing: the
// owner is read again and checked like any other.
void claim_or_check(const char *domain, Oid table_owner, Oid caller, const char *action) {
    Oid owner = domain_owner(domain);
    if (owner == InvalidOid) {
        claim_domain(domain, table_owner);
        owner = domain_owner(domain);
    }
    check_domain_access(caller, domain, owner, action);
}

// A domain argument, checked like every other domain name.
DomainName domain_arg(text *t) {
    DomainName domain;
    if (!DomainName::from(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &domain))
        raise_bad_domain_name(VARSIZE_ANY_EXHDR(t));
    return domain;
}

}  // namespace

void fraiseql_cache::catalog::require_domain_access(const char *domain, const char *action) {
    const Oid caller = GetUserId();
    Oid owner = InvalidOid;
    catalog::as_extension_owner([&] {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "pg_fraiseql_cache: SPI_connect failed");
        owner = domain_owner(domain);
        SPI_finish();
    });
    check_domain_access(caller, domain, owner, action);
}

extern "C" {

PG_FUNCTION_INFO_V1(fraiseql_cache_resolve_table);
PG_FUNCTION_INFO_V1(fraiseql_cache_register_table);
PG_FUNCTION_INFO_V1(fraiseql_cache_note_registration);
PG_FUNCTION_INFO_V1(fraiseql_cache_check_domain_access);
PG_FUNCTION_INFO_V1(fraiseql_cache_set_domain_owner);
PG_FUNCTION_INFO_V1(fraiseql_cache_setup_ddl);
PG_FUNCTION_INFO_V1(fraiseql_cache_install_triggers);
PG_FUNCTION_INFO_V1(fraiseql_cache_drop_domain);

// _resolve_table(text) -> regclass: the name as the caller's search_path
// resolves it, parsed like an SQL identifier. Written in C so that no
// operator, function or cast is looked up through that search_path.
Datum fraiseql_cache_resolve_table(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(0) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)) == 0)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("table name must not be NULL or empty"),
                        errhint("Pass the table as text, e.g. 'tv_contract' or "
                                "'public.tv_contract'.")));
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    List *names = NIL;
    Oid relid = InvalidOid;
    if (SplitIdentifierString(pstrdup(name), '.', &names) && list_length(names) >= 1 &&
        list_length(names) <= 3) {
        List *qualified = NIL;
        ListCell *lc;
        foreach (lc, names)
            qualified = lappend(qualified, makeString(static_cast<char *>(lfirst(lc))));
        relid = RangeVarGetRelid(makeRangeVarFromNameList(qualified), NoLock, true);
    }
    if (relid == InvalidOid)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("table \"%s\" does not exist", name),
                        errhint("Name an existing table, schema-qualified if it is not on the "
                                "search_path; quote mixed-case names ('\"MyTable\"').")));
    PG_RETURN_OID(relid);
}

// _register_table(regclass): see the file comment.
Datum fraiseql_cache_register_table(PG_FUNCTION_ARGS) {
    require_served_database();
    Oid relid = PG_GETARG_OID(0);
    const Oid caller = GetUserId();
    catalog::TrackedBy by;
    if (!catalog::row_trigger_of_relation(relid, &by))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("table %s has no pg_fraiseql_cache trigger",
                               get_rel_name(relid)),
                        errhint("Use fraiseql_cache.setup_table_invalidation().")));
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        elog(ERROR, "pg_fraiseql_cache: relation %u has no pg_class row", relid);
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    Oid owner = form->relowner;
    char *table_name = pstrdup(NameStr(form->relname));
    char *schema_name = get_namespace_name(form->relnamespace);
    ReleaseSysCache(tuple);
    if (!has_privs_of_role(caller, owner))
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("must be owner of table %s", table_name),
                        errhint("Run setup_table_invalidation() as the table's owner.")));

    catalog::as_extension_owner([&] {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "pg_fraiseql_cache: SPI_connect failed");
        claim_or_check(by.domain.bytes, owner, caller, "attach tables to");
        Oid types[4] = {NAMEOID, NAMEOID, TEXTOID, NAMEOID};
        Datum values[4] = {DirectFunctionCall1(namein, CStringGetDatum(schema_name)),
                           DirectFunctionCall1(namein, CStringGetDatum(table_name)),
                           PointerGetDatum(cstring_to_text(by.domain.bytes)), Datum(0)};
        char nulls[4] = {' ', ' ', ' ', by.global ? 'n' : ' '};
        if (!by.global)
            values[3] = DirectFunctionCall1(namein, CStringGetDatum(by.tenant_column));
        if (SPI_execute_with_args(
                "INSERT INTO fraiseql_cache.tracked_tables AS t "
                "  (table_schema, table_name, domain, tenant_column) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (table_schema, table_name) DO UPDATE "
                "   SET domain = EXCLUDED.domain, tenant_column = EXCLUDED.tenant_column "
                " WHERE (t.domain, t.tenant_column) IS DISTINCT FROM "
                "       (EXCLUDED.domain, EXCLUDED.tenant_column)",
                4, types, values, nulls, false, 0) != SPI_OK_INSERT)
            elog(ERROR, "pg_fraiseql_cache: registering the table failed");
        SPI_finish();
    });
    record_registration(by.domain, by.global);
    PG_RETURN_VOID();
}

// _note_registration(domain text): the worker re-reads the domain's scope
// at commit (a table left it).
Datum fraiseql_cache_note_registration(PG_FUNCTION_ARGS) {
    require_served_database();
    text *t = PG_GETARG_TEXT_PP(0);
    DomainName domain;
    if (!DomainName::from(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &domain))
        PG_RETURN_VOID();
    record_registration(domain, false);
    PG_RETURN_VOID();
}

// _check_domain_access(domain text, action text): raises 42501 unless the
// caller has the privileges of the domain's owner (an unowned domain is
// open to every role allowed to call the function that asks).
Datum fraiseql_cache_check_domain_access(PG_FUNCTION_ARGS) {
    catalog::require_domain_access(text_to_cstring(PG_GETARG_TEXT_PP(0)),
                                   text_to_cstring(PG_GETARG_TEXT_PP(1)));
    PG_RETURN_VOID();
}

// _setup_ddl() -> boolean: whether the DDL running now is
// _install_triggers()'s own.
Datum fraiseql_cache_setup_ddl(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(pending::setup_ddl); }

// _install_triggers(rel regclass, domain text, tenant_column text): drops
// and creates the two triggers as the caller (who must own the table:
// CREATE TRIGGER checks it), marked as setup's own DDL for the event trigger
// for just these statements. The mark is set here only, never from SQL.
Datum fraiseql_cache_install_triggers(PG_FUNCTION_ARGS) {
    require_served_database();
    Oid relid = PG_GETARG_OID(0);
    char *domain = text_to_cstring(PG_GETARG_TEXT_PP(1));
    char *column = text_to_cstring(PG_GETARG_TEXT_PP(2));
    if (!pending::ensure_ready())
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    char *rel = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
    const char *lit_domain = quote_literal_cstr(domain);
    const char *lit_column = quote_literal_cstr(column);
    const char *statements[] = {
        // BEFORE ROW: no after-trigger queue per row. Named to fire after the
        // table's other BEFORE triggers (name order), so it sees the final row.
        psprintf("CREATE TRIGGER zz_fraiseql_cache_row BEFORE INSERT OR UPDATE OR DELETE ON %s "
                 "FOR EACH ROW EXECUTE FUNCTION fraiseql_cache.track_row(%s, %s)",
                 rel, lit_domain, lit_column),
        psprintf("CREATE TRIGGER zz_fraiseql_cache_truncate BEFORE TRUNCATE ON %s "
                 "FOR EACH STATEMENT EXECUTE FUNCTION fraiseql_cache.track_row(%s, %s)",
                 rel, lit_domain, lit_column),
        // ALWAYS: logical replication apply and session_replication_role =
        // replica still invalidate.
        psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER zz_fraiseql_cache_row", rel),
        psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER zz_fraiseql_cache_truncate", rel),
    };
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "pg_fraiseql_cache: SPI_connect failed");
    pending::setup_ddl = true;  // cleared at the end of the transaction too
    {
        Oid types[1] = {OIDOID};
        Datum values[1] = {ObjectIdGetDatum(relid)};
        if (SPI_execute_with_args("SELECT fraiseql_cache._drop_triggers($1::pg_catalog.regclass)",
                                  1, types, values, nullptr, false, 0) != SPI_OK_SELECT)
            elog(ERROR, "pg_fraiseql_cache: dropping the old triggers failed");
    }
    for (const char *sql : statements)
        if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
            elog(ERROR, "pg_fraiseql_cache: %s failed", sql);
    pending::setup_ddl = false;
    SPI_finish();
    PG_RETURN_VOID();
}

// set_domain_owner(domain text, owner regrole): the domain's owner or a
// superuser hands the domain to another role (or names the owner of a
// domain no table is tracked under yet).
Datum fraiseql_cache_set_domain_owner(PG_FUNCTION_ARGS) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("domain and owner must not be NULL"),
                        errhint("Pass a domain name and a role, e.g. ('contract', 'app').")));
    DomainName domain = domain_arg(PG_GETARG_TEXT_PP(0));
    Oid new_owner = PG_GETARG_OID(1);
    const Oid caller = GetUserId();
    catalog::as_extension_owner([&] {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "pg_fraiseql_cache: SPI_connect failed");
        Oid owner = domain_owner(domain.bytes);
        if (owner == InvalidOid ? !superuser_arg(caller) : !has_privs_of_role(caller, owner))
            check_domain_access(caller, domain.bytes, owner == InvalidOid ? BOOTSTRAP_SUPERUSERID : owner,
                                "change the owner of");
        Oid types[2] = {TEXTOID, OIDOID};
        Datum values[2] = {PointerGetDatum(cstring_to_text(domain.bytes)),
                           ObjectIdGetDatum(new_owner)};
        if (SPI_execute_with_args("INSERT INTO fraiseql_cache.domains (domain, owner) "
                                  "VALUES ($1, $2::regrole) ON CONFLICT (domain) "
                                  "DO UPDATE SET owner = EXCLUDED.owner",
                                  2, types, values, nullptr, false, 0) != SPI_OK_INSERT)
            elog(ERROR, "pg_fraiseql_cache: changing the domain owner failed");
        SPI_finish();
    });
    PG_RETURN_VOID();
}

// drop_domain(domain text): retires a domain no table is tracked under any
// more: every tenant of it is bumped one last time (so no cache entry of it
// stays fresh), its cascade rules and its owner go. Its versions stay
// (domain_version rows and the domain floor), so a domain of the same name
// created later never repeats a version.
Datum fraiseql_cache_drop_domain(PG_FUNCTION_ARGS) {
    require_served_database();
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("domain must not be NULL"),
                        errhint("Pass a domain name such as 'contract'.")));
    DomainName domain = domain_arg(PG_GETARG_TEXT_PP(0));
    catalog::require_domain_access(domain.bytes, "drop");
    uint64 removed = 0;
    const Oid caller = GetUserId();
    catalog::as_extension_owner([&] {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "pg_fraiseql_cache: SPI_connect failed");
        Oid types[1] = {TEXTOID};
        Datum values[1] = {PointerGetDatum(cstring_to_text(domain.bytes))};
        if (SPI_execute_with_args("SELECT 1 FROM fraiseql_cache.tracked_tables WHERE domain = $1",
                                  1, types, values, nullptr, true, 1) != SPI_OK_SELECT)
            elog(ERROR, "pg_fraiseql_cache: reading tracked_tables failed");
        const uint64 tracked = SPI_processed;
        if (domain_owner(domain.bytes) == InvalidOid && !superuser_arg(caller))
            ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                            errmsg("permission denied to drop cache domain \"%s\"", domain.bytes),
                            errdetail("The domain has no owner."),
                            errhint("Only a superuser drops a domain nobody owns.")));
        if (tracked > 0)
            ereport(ERROR, (errcode(ERRCODE_OBJECT_IN_USE),
                            errmsg("cache domain \"%s\" still has tracked tables", domain.bytes),
                            errhint("Run fraiseql_cache.remove_table_invalidation() for them "
                                    "first (fraiseql_cache.v_invalidation_status lists them).")));
        if (SPI_execute_with_args("DELETE FROM fraiseql_cache.cascade_rules "
                                  "WHERE source_domain = $1 OR target_domain = $1",
                                  1, types, values, nullptr, false, 0) != SPI_OK_DELETE)
            elog(ERROR, "pg_fraiseql_cache: removing cascade rules failed");
        if (SPI_execute_with_args("DELETE FROM fraiseql_cache.domains WHERE domain = $1", 1,
                                  types, values, nullptr, false, 0) != SPI_OK_DELETE)
            elog(ERROR, "pg_fraiseql_cache: removing the domain owner failed");
        removed = SPI_processed;
        SPI_finish();
    });
    uint32_t id = pending::intern_domain(domain.bytes, domain.length(), false);
    if (id == pending::kNoDomain || !pending::ensure_ready() ||
        !pending::record(pending::Recorded{id, true, true, false}, TenantId::all()))
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    (void)removed;
    PG_RETURN_VOID();
}

}  // extern "C"
