// invalidate() and invalidate_domain(): manual bumps, recorded in the
// current transaction like a trigger's and applied at its commit (nothing on
// rollback). They are recorded even with fraiseql_cache.enabled = off: that
// is how a maintenance window ends.
#include "pg_fraiseql_cache/domain_names.hpp"
#include "pg_fraiseql_cache/catalog.hpp"
#include "pg_fraiseql_cache/pending.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "access/xlog.h"
}

using namespace fraiseql_cache;

namespace {

uint32_t manual_domain(FunctionCallInfo fcinfo, int arg) {
    if (PG_ARGISNULL(arg))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("domain must not be NULL"),
                        errhint("Pass a domain name such as 'contract'.")));
    text *domain = PG_GETARG_TEXT_PP(arg);
    int len = VARSIZE_ANY_EXHDR(domain);
    if (!domain_name_ok(std::size_t(len)))
        raise_bad_domain_name(std::size_t(len));
    if (RecoveryInProgress())
        ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
                        errmsg("cannot bump cache versions during recovery"),
                        errhint("Run it on the primary.")));
    // Only roles with the privileges of the domain's owner bump it by hand.
    char *name = text_to_cstring(domain);
    catalog::require_domain_access(name, "bump");
    uint32_t id = pending::intern_domain(VARDATA_ANY(domain), len, false);
    if (id == pending::kNoDomain || !pending::ensure_ready())
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    return id;
}

void record_or_fail(pending::Recorded domain, const TenantId &tenant) {
    if (!pending::record(domain, tenant))
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(fraiseql_cache_invalidate);
PG_FUNCTION_INFO_V1(fraiseql_cache_invalidate_domain);

Datum fraiseql_cache_invalidate(PG_FUNCTION_ARGS) {
    require_served_database();
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("tenant must not be NULL"),
                        errhint("Use fraiseql_cache.invalidate_domain() to bump every tenant.")));
    TenantId tenant;
    memcpy(tenant.bytes, PG_GETARG_UUID_P(0)->data, sizeof tenant.bytes);
    record_or_fail(pending::Recorded{manual_domain(fcinfo, 1), false, true, false}, tenant);
    PG_RETURN_VOID();
}

// Every known tenant of the domain, and the all-tenants pair.
Datum fraiseql_cache_invalidate_domain(PG_FUNCTION_ARGS) {
    require_served_database();
    record_or_fail(pending::Recorded{manual_domain(fcinfo, 0), true, true, false}, TenantId::all());
    PG_RETURN_VOID();
}

}  // extern "C"
