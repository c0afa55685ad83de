// Triggers on the extension's own tables.
//
// _rules_changed(): a statement trigger on cascade_rules. The transaction
// is marked, and at commit it advances the generation the worker's cached
// rule graph is checked against (see Worker::refresh_rules).
//
// _replicated_write(): ENABLE REPLICA row and TRUNCATE triggers on every
// table of the extension. A publication FOR ALL TABLES includes them, and a
// subscriber must not import the publisher's versions, rules or worker
// state: each server keeps its own. A logical replication worker's rows are
// skipped (with one WARNING per process); any other session that runs with
// session_replication_role = replica (a restore, say) writes as usual.
#include "pg_fraiseql_cache/pending.hpp"
#include "pg_fraiseql_cache/pg.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "replication/logicalworker.h"
#include "utils/rel.h"
}

using namespace fraiseql_cache;

extern "C" {

PG_FUNCTION_INFO_V1(fraiseql_cache_rules_changed);
PG_FUNCTION_INFO_V1(fraiseql_cache_replicated_write);

Datum fraiseql_cache_rules_changed(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("fraiseql_cache._rules_changed() must be called as a trigger")));
    if (!pending::ensure_ready())
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
    // Binds this session to the database's slot, where the commit counts the change.
    (void)serves_this_database();
    pending::rules_changed = true;
    return Datum(0);
}

Datum fraiseql_cache_replicated_write(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("fraiseql_cache._replicated_write() must be called as a trigger")));
    auto *td = reinterpret_cast<TriggerData *>(fcinfo->context);
    HeapTuple row = nullptr;
    if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
        row = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
    if (!IsLogicalWorker())
        return PointerGetDatum(row);
    // A TRUNCATE cannot be skipped: refuse it (the subscription retries, and
    // reports the error, until the publication stops sending it).
    if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("pg_fraiseql_cache: a replicated TRUNCATE of %s is refused",
                        RelationGetRelationName(td->tg_relation)),
                 errdetail("Each server keeps its own versions, rules and registrations."),
                 errhint("Publish application tables only (FOR TABLE ... or FOR TABLES IN "
                         "SCHEMA ...), not FOR ALL TABLES.")));
    static bool warned = false;
    if (!warned) {
        warned = true;
        ereport(WARNING,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("pg_fraiseql_cache: replicated changes to %s are ignored",
                        RelationGetRelationName(td->tg_relation)),
                 errdetail("Each server keeps its own versions, rules and registrations."),
                 errhint("Publish application tables only (FOR TABLE ... or FOR TABLES IN "
                         "SCHEMA ...), not FOR ALL TABLES.")));
    }
    return Datum(0);  // skip the row (or, for TRUNCATE, nothing to return)
}

}  // extern "C"
