// Catalog look-ups of the extension's own triggers, for the code that runs
// outside the row path: registration, the DDL hooks, authorization.
//
// Plain C-style functions: they may raise PostgreSQL errors and own nothing
// a longjmp could leak.
#pragma once

#include "pg_fraiseql_cache/pair.hpp"
#include "pg_fraiseql_cache/pg.hpp"

extern "C" {
#include "catalog/pg_authid.h"
#include "utils/guc.h"
}

namespace fraiseql_cache::catalog {

// The arguments of a zz_fraiseql_cache_row trigger.
struct TrackedBy {
    DomainName domain;
    bool global;  // no tenant column
    char tenant_column[NAMEDATALEN];
};

// OID of fraiseql_cache.track_row(), InvalidOid when the extension is not
// installed in this database.
Oid track_row_function();

// The row trigger on `relid` that calls track_row() (a partition's clone
// too); false when there is none.
bool row_trigger_of_relation(Oid relid, TrackedBy *out);
// The trigger `trigger_oid` if it is such a row trigger, and its relation.
bool row_trigger_by_oid(Oid trigger_oid, TrackedBy *out, Oid *relid);

// Whether the relation may bump the domain: its root table is registered
// under the domain, or the table's owner has the privileges of the domain's
// owner. A trigger created by hand on someone's own table cannot reach
// another owner's domain. False also while the extension's tables are gone
// (DROP EXTENSION in progress).
bool may_bump(Oid relid, const DomainName &domain);

// Raises 42501 unless the current user has the privileges of the domain's
// owner (or the domain has none yet). `action` completes "permission denied
// to ... cache domain". Implemented with the registration code.
void require_domain_access(const char *domain, const char *action);

// Runs fn as the bootstrap superuser with search_path = pg_catalog, pg_temp;
// an error restores both (transaction or subtransaction abort).
template <typename F>
void as_extension_owner(F &&fn) {
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
                           saved_context | SECURITY_LOCAL_USERID_CHANGE);
    int nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    fn();
    AtEOXact_GUC(true, nest);
    SetUserIdAndSecContext(saved_user, saved_context);
}

}  // namespace fraiseql_cache::catalog
