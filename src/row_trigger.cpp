// The row trigger: records (domain, tenant) for every changed row, and the
// statement trigger for TRUNCATE.
//
// This is the hottest code in the product. Per row it does: one comparison
// against the last trigger seen (else a dynahash lookup), heap_getattr of a
// cached attribute number, and an insert into the transaction's pair set
// (which first compares with the last pair). No catalog access, no lock, no
// allocation once the set has grown to the transaction's size.
//
// Trigger arguments: (domain, tenant column). A missing or empty tenant
// column makes the domain global. Cached per trigger OID: a partition has its
// own clone of the trigger (and maybe its own attribute number for the same
// column name); a relcache invalidation of the relation drops its entries.
#include "pg_fraiseql_cache/domain_names.hpp"
#include "pg_fraiseql_cache/catalog.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/pending.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "catalog/pg_trigger.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace fraiseql_cache {
namespace {

struct TriggerTarget {
    Oid trigger_oid;  // hash key
    Oid relation;
    uint32_t domain;  // local id, see pending.hpp
    AttrNumber tenant_attnum;  // InvalidAttrNumber: global domain
};

HTAB *targets = nullptr;
TriggerTarget *last_target = nullptr;

void forget_relation(Datum, Oid relid) {
    last_target = nullptr;
    if (targets == nullptr)
        return;
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, targets);
    while (auto *t = static_cast<TriggerTarget *>(hash_seq_search(&scan))) {
        if (relid == InvalidOid || t->relation == relid)
            hash_search(targets, &t->trigger_oid, HASH_REMOVE, nullptr);
    }
}

void out_of_memory() {
    ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
                    errdetail("pg_fraiseql_cache could not record a changed row.")));
}

// Builds the cache entry for a trigger on first use. Plain C-style code: it
// may raise errors, and owns nothing a longjmp could leak.
TriggerTarget *build_target(TriggerData *td) {
    require_served_database();
    Trigger *trigger = td->tg_trigger;
    Relation rel = td->tg_relation;
    if (trigger->tgnargs < 1 || trigger->tgnargs > 2)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("trigger \"%s\" on \"%s\" has malformed arguments", trigger->tgname,
                               RelationGetRelationName(rel)),
                        errhint("Run fraiseql_cache.setup_table_invalidation() for the table "
                                "again.")));
    const char *domain = trigger->tgargs[0];
    size_t domain_len = strlen(domain);
    if (!domain_name_ok(domain_len))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cache domain \"%s\" must be 1 to %d bytes long", domain,
                               int(kDomainMaxBytes)),
                        errhint("Run fraiseql_cache.setup_table_invalidation() with a valid "
                                "domain.")));
    AttrNumber attnum = InvalidAttrNumber;
    if (trigger->tgnargs == 2 && trigger->tgargs[1][0] != '\0') {
        const char *column = trigger->tgargs[1];
        attnum = get_attnum(RelationGetRelid(rel), column);
        if (attnum == InvalidAttrNumber)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("tenant column \"%s\" of relation \"%s\" does not exist",
                                   column, RelationGetRelationName(rel)),
                            errhint("Run fraiseql_cache.setup_table_invalidation() for the table "
                                    "again.")));
        if (TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid != UUIDOID)
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("tenant column \"%s\" of relation \"%s\" is not of type uuid",
                                   column, RelationGetRelationName(rel)),
                            errhint("Run fraiseql_cache.setup_table_invalidation() for the table "
                                    "again.")));
    }
    // A BEFORE ROW trigger that fires after ours could still change the
    // row, its tenant among others: we would record a tenant the row does
    // not end with. DDL refuses such triggers on tracked tables; this
    // catches one that got there another way.
    if (rel->trigdesc != nullptr) {
        bool after_ours = false;
        for (int i = 0; i < rel->trigdesc->numtriggers; i++) {
            const Trigger &other = rel->trigdesc->triggers[i];
            if (other.tgoid == trigger->tgoid) {
                after_ours = true;
                continue;
            }
            if (after_ours && !other.tgisinternal && other.tgenabled != TRIGGER_DISABLED &&
                TRIGGER_FOR_ROW(other.tgtype) && TRIGGER_FOR_BEFORE(other.tgtype) &&
                (TRIGGER_FOR_INSERT(other.tgtype) || TRIGGER_FOR_UPDATE(other.tgtype)))
                ereport(ERROR,
                        (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                         errmsg("trigger \"%s\" on \"%s\" fires after \"%s\" and can change "
                                "the row it records",
                                other.tgname, RelationGetRelationName(rel), trigger->tgname),
                         errhint("BEFORE ROW triggers fire in name order: rename it to sort "
                                 "before \"%s\", or make it an AFTER trigger.",
                                 trigger->tgname)));
        }
    }
    DomainName domain_name;
    if (!DomainName::from(domain, domain_len, &domain_name) ||
        !catalog::may_bump(RelationGetRelid(rel), domain_name))
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                 errmsg("table \"%s\" may not bump cache domain \"%s\"",
                        RelationGetRelationName(rel), domain),
                 errdetail("The table is not registered under the domain, and its owner does "
                           "not have the privileges of the domain's owner."),
                 errhint("Run fraiseql_cache.setup_table_invalidation() for the table as a "
                         "role allowed to use the domain.")));
    uint32_t local_domain =
        pending::intern_domain(domain, domain_len, attnum == InvalidAttrNumber);
    if (local_domain == pending::kNoDomain || !pending::ensure_ready())
        out_of_memory();

    if (targets == nullptr) {
        HASHCTL ctl = {};
        ctl.keysize = sizeof(Oid);
        ctl.entrysize = sizeof(TriggerTarget);
        ctl.hcxt = CacheMemoryContext;
        targets = hash_create("fraiseql_cache trigger targets", 64, &ctl,
                              HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
        CacheRegisterRelcacheCallback(forget_relation, Datum(0));
    }
    bool found = false;
    auto *t = static_cast<TriggerTarget *>(
        hash_search(targets, &trigger->tgoid, HASH_ENTER, &found));
    t->relation = RelationGetRelid(rel);
    t->domain = local_domain;
    t->tenant_attnum = attnum;
    return t;
}

inline TriggerTarget *target_for(TriggerData *td) {
    Oid tgoid = td->tg_trigger->tgoid;
    if (likely(last_target != nullptr && last_target->trigger_oid == tgoid))
        return last_target;
    TriggerTarget *t = nullptr;
    if (targets != nullptr)
        t = static_cast<TriggerTarget *>(hash_search(targets, &tgoid, HASH_FIND, nullptr));
    if (t == nullptr)
        t = build_target(td);
    last_target = t;
    return t;
}

inline TenantId tenant_of(const TriggerTarget *t, HeapTuple tuple, TupleDesc desc) {
    TenantId tenant = TenantId::all();
    if (t->tenant_attnum == InvalidAttrNumber)
        return tenant;
    bool isnull = false;
    Datum d = heap_getattr(tuple, t->tenant_attnum, desc, &isnull);
    // A row without a tenant belongs to no tenant: only the all-tenants
    // pair, which every bump of the domain moves anyway.
    if (!isnull)
        memcpy(tenant.bytes, DatumGetUUIDP(d)->data, sizeof tenant.bytes);
    return tenant;
}

}  // namespace
}  // namespace fraiseql_cache

using namespace fraiseql_cache;

extern "C" {

PG_FUNCTION_INFO_V1(fraiseql_cache_track_row);

Datum fraiseql_cache_track_row(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("fraiseql_cache.track_row() must be called as a trigger")));
    auto *td = reinterpret_cast<TriggerData *>(fcinfo->context);
    TriggerEvent event = td->tg_event;

    HeapTuple result = nullptr;
    if (TRIGGER_FIRED_FOR_ROW(event))
        result = TRIGGER_FIRED_BY_UPDATE(event) ? td->tg_newtuple : td->tg_trigtuple;
    if (!settings.enabled)
        return PointerGetDatum(result);

    TriggerTarget *t = target_for(td);
    if (TRIGGER_FIRED_BY_TRUNCATE(event)) {
        // The whole domain: the all-tenants pair, which the worker widens
        // to every known tenant of the domain.
        if (!pending::record(pending::Recorded{t->domain, true, false, false}, TenantId::all()))
            fraiseql_cache::out_of_memory();
        return Datum(0);
    }
    if (!TRIGGER_FIRED_FOR_ROW(event))
        return Datum(0);

    TupleDesc desc = RelationGetDescr(td->tg_relation);
    TenantId tenant = tenant_of(t, td->tg_trigtuple, desc);
    bool ok = pending::record(pending::Recorded::row(t->domain), tenant);
    if (TRIGGER_FIRED_BY_UPDATE(event) && t->tenant_attnum != InvalidAttrNumber) {
        // A row that moves to another tenant changes both tenants' data.
        TenantId new_tenant = tenant_of(t, td->tg_newtuple, desc);
        if (new_tenant != tenant)
            ok = pending::record(pending::Recorded::row(t->domain), new_tenant) && ok;
    }
    if (unlikely(!ok))
        fraiseql_cache::out_of_memory();
    pending::rows_seen++;
    return PointerGetDatum(result);
}

}  // extern "C"
