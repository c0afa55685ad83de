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
// One more: ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY commits a first
// internal transaction after which new snapshots no longer see the
// partition's rows, and drops the cloned trigger only in a second one (which
// a cancel can postpone indefinitely): the utility hook records the bump
// before the command runs, so the first commit hands it off.
// The utility hook also steps a database's worker aside for the commands
// that need that database alone (step_aside.cpp).
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
#include "pg_fraiseql_cache/step_aside.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/namespace.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
}

namespace fraiseql_cache {
namespace {

object_access_hook_type previous_hook = nullptr;
ProcessUtility_hook_type previous_utility_hook = nullptr;

void record_whole_domain(Oid relid, const catalog::TrackedBy &by) {
    if (!catalog::may_bump(relid, by.domain))
        return;
    uint32_t id = pending::intern_domain(by.domain.bytes, by.domain.length(), by.global);
    if (id == pending::kNoDomain || !pending::ensure_ready() ||
        !pending::record(pending::Recorded{id, true, false, false}, TenantId::all()) ||
        !pending::record(pending::Recorded{id, false, false, true}, TenantId::all()))
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

void run_utility(PlannedStmt *pstmt, const char *query, bool read_only_tree,
                 ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *env,
                 DestReceiver *dest, QueryCompletion *qc) {
    if (previous_utility_hook != nullptr)
        previous_utility_hook(pstmt, query, read_only_tree, context, params, env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
}

void on_utility(PlannedStmt *pstmt, const char *query, bool read_only_tree,
                ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *env,
                DestReceiver *dest, QueryCompletion *qc) {
    Node *stmt = pstmt->utilityStmt;
    if (IsA(stmt, AlterTableStmt) && relevant()) {
        ListCell *lc;
        foreach (lc, reinterpret_cast<AlterTableStmt *>(stmt)->cmds) {
            auto *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
            if (cmd->subtype != AT_DetachPartition || cmd->def == nullptr)
                continue;
            auto *part = reinterpret_cast<PartitionCmd *>(cmd->def);
            if (!part->concurrent || part->name == nullptr)
                continue;
            Oid partition = RangeVarGetRelid(part->name, NoLock, true);
            catalog::TrackedBy by;
            if (partition != InvalidOid && catalog::row_trigger_of_relation(partition, &by))
                record_whole_domain(partition, by);
        }
    }
    bool dropping = false;
    int aside = step_aside_for(stmt, &dropping);
    if (aside < 0) {
        run_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
        return;
    }
    PG_TRY();
    {
        wait_for_worker_to_leave(aside);
        run_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    }
    PG_CATCH();
    {
        step_back(aside, false);
        PG_RE_THROW();
    }
    PG_END_TRY();
    step_back(aside, dropping);
}

}  // namespace

void install_ddl_hooks() {
    previous_hook = object_access_hook;
    object_access_hook = on_object_access;
    previous_utility_hook = ProcessUtility_hook;
    ProcessUtility_hook = on_utility;
}

}  // namespace fraiseql_cache
