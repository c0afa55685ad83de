// Rows that leave a tracked table without any row trigger firing.
//
// PostgreSQL removes rows wholesale in two ways a row trigger never sees:
//   TRUNCATE   of any relation (a partition truncated on its own fires only
//              its own statement triggers, and the TRUNCATE trigger is on
//              the partitioned parent alone);
//   DROP       of the relation or of our trigger: DROP TABLE of a tracked
//              table or of a partition (also through DROP SCHEMA/OWNED ...
//              CASCADE), DETACH PARTITION (drops the cloned row trigger),
//              DROP TRIGGER, remove_table_invalidation().
// Every relation whose rows are tracked carries our row trigger (partitions
// a clone of it), so PostgreSQL's object access hook covers both: OAT_TRUNCATE
// for each relation about to be truncated, OAT_DROP for each trigger about to
// be deleted. Each records a whole-domain bump (and a registration, which
// makes the worker re-read the domain's scope), applied at commit like any
// other bump and discarded on rollback. Rows that *enter* a tracked table
// through DDL (ATTACH PARTITION, a new column default) go through ALTER
// TABLE, which the ddl_command_end event trigger bumps.
//
// C-style code: errors propagate as PostgreSQL errors; nothing here owns
// C++ resources.
#include "pg_fraiseql_cache/catalog.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/pending.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
}

namespace fraiseql_cache {
namespace {

object_access_hook_type previous_hook = nullptr;

void record_whole_domain(Oid relid, const catalog::TrackedBy &by) {
    if (!catalog::may_bump(relid, by.domain))
        return;
    uint32_t id = pending::intern_domain(by.domain.bytes, by.domain.length(), by.global);
    if (id == pending::kNoDomain || !pending::ensure_ready() ||
        !pending::record(id | pending::kWholeDomain, TenantId::all()) ||
        !pending::record(id | pending::kRegister, TenantId::all()))
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

bool relevant() {
    return settings.enabled && serves_this_database() && !RecoveryInProgress() &&
           IsTransactionState();
}

void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id,
                      void *arg) {
    if (previous_hook != nullptr)
        previous_hook(access, class_id, object_id, sub_id, arg);
    if (access == OAT_TRUNCATE && class_id == RelationRelationId) {
        if (!relevant())
            return;
        catalog::TrackedBy by;
        if (catalog::row_trigger_of_relation(object_id, &by))
            record_whole_domain(object_id, by);
    } else if (access == OAT_DROP && class_id == TriggerRelationId) {
        if (!relevant())
            return;
        catalog::TrackedBy by;
        Oid relid = InvalidOid;
        if (catalog::row_trigger_by_oid(object_id, &by, &relid))
            record_whole_domain(relid, by);
    }
}

}  // namespace

void install_ddl_hooks() {
    previous_hook = object_access_hook;
    object_access_hook = on_object_access;
}

}  // namespace fraiseql_cache
