// Catalog look-ups of the extension's triggers (see catalog.hpp).
#include "pg_fraiseql_cache/catalog.hpp"

#include <algorithm>

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace fraiseql_cache::catalog {
namespace {

// Decodes tgargs ("domain\0column\0") of a row trigger tuple.
bool decode(HeapTuple tuple, TupleDesc desc, TrackedBy *out) {
    auto *t = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple));
    if (!TRIGGER_FOR_ROW(t->tgtype) || t->tgnargs < 1)
        return false;
    bool isnull = false;
    Datum args = heap_getattr(tuple, Anum_pg_trigger_tgargs, desc, &isnull);
    if (isnull)
        return false;
    bytea *raw = DatumGetByteaPP(args);
    const char *p = VARDATA_ANY(raw);
    std::size_t len = VARSIZE_ANY_EXHDR(raw);
    std::size_t domain_len = strnlen(p, len);
    if (!DomainName::from(p, domain_len, &out->domain))
        return false;
    out->global = t->tgnargs < 2 || domain_len + 1 >= len || p[domain_len + 1] == '\0';
    out->tenant_column[0] = '\0';
    if (!out->global)
        strlcpy(out->tenant_column, p + domain_len + 1,
                std::min<std::size_t>(sizeof out->tenant_column, len - domain_len));
    return true;
}

bool scan_triggers(Oid index, AttrNumber attribute, Oid key_value, Oid function,
                   TrackedBy *out, Oid *relid = nullptr) {
    Relation rel = table_open(TriggerRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, attribute, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(key_value));
    SysScanDesc scan = systable_beginscan(rel, index, true, nullptr, 1, &key);
    bool found = false;
    HeapTuple tuple;
    while (!found && HeapTupleIsValid(tuple = systable_getnext(scan))) {
        auto *t = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple));
        if (t->tgfoid == function && (found = decode(tuple, RelationGetDescr(rel), out)) &&
            relid != nullptr)
            *relid = t->tgrelid;
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return found;
}

// By catalog key, not by name lookup: a role writing to a tracked table
// needs no USAGE on the extension's schema.
Oid extension_function(const char *name, int nargs, Oid *types) {
    Oid nsp = get_namespace_oid("fraiseql_cache", true);
    if (nsp == InvalidOid)
        return InvalidOid;
    oidvector *args = buildoidvector(types, nargs);
    return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum(name),
                           PointerGetDatum(args), ObjectIdGetDatum(nsp));
}

}  // namespace

Oid track_row_function() {
    if (get_namespace_oid("fraiseql_cache", true) == InvalidOid)
        return InvalidOid;
    return extension_function("track_row", 0, nullptr);
}

bool row_trigger_of_relation(Oid relid, TrackedBy *out) {
    Oid function = track_row_function();
    return function != InvalidOid &&
           scan_triggers(TriggerRelidNameIndexId, Anum_pg_trigger_tgrelid, relid, function, out);
}

bool row_trigger_by_oid(Oid trigger_oid, TrackedBy *out, Oid *relid) {
    Oid function = track_row_function();
    return function != InvalidOid && scan_triggers(TriggerOidIndexId, Anum_pg_trigger_oid,
                                                   trigger_oid, function, out, relid);
}

bool may_bump(Oid relid, const DomainName &domain) {
    Oid types[2] = {OIDOID, TEXTOID};
    Oid checker = extension_function("_may_bump", 2, types);
    Oid nsp = get_namespace_oid("fraiseql_cache", true);
    if (checker == InvalidOid || nsp == InvalidOid ||
        get_relname_relid("tracked_tables", nsp) == InvalidOid ||
        get_relname_relid("domains", nsp) == InvalidOid)
        return false;
    Datum result = OidFunctionCall2(checker, ObjectIdGetDatum(relid),
                                    PointerGetDatum(cstring_to_text(domain.bytes)));
    return DatumGetBool(result);
}

}  // namespace fraiseql_cache::catalog
