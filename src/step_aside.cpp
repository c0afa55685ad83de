// Commands that need a database with no other session: CREATE DATABASE ...
// TEMPLATE (the template), ALTER DATABASE ... RENAME and ... SET TABLESPACE,
// DROP DATABASE. The session running one asks the database's worker to
// exit and waits for it (bounded), runs the command, then lets the launcher
// start the worker again (or releases the slot of a dropped database).
//
// The worker stops without recording a clean stop: it comes back on the
// same shared memory, and a clone made meanwhile starts from a state row
// that says "not clean", so its first worker raises every version past
// what the source had handed out. Commits in the database meanwhile do not
// wait for their bumps (no worker is expected); the ring keeps them.
#include "pg_fraiseql_cache/shared_state.hpp"
#include "pg_fraiseql_cache/step_aside.hpp"

extern "C" {
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "utils/wait_event.h"
}

namespace fraiseql_cache {
namespace {

// How long the command waits for the worker to leave; CREATE DATABASE then
// waits 5 s more for other sessions itself.
constexpr int kStepAsideWaitMs = 10000;

const char *database_needed_alone(Node *stmt, bool *dropping) {
    *dropping = false;
    ListCell *lc;
    switch (nodeTag(stmt)) {
    case T_CreatedbStmt: {
        const char *tmpl = "template1";
        foreach (lc, reinterpret_cast<CreatedbStmt *>(stmt)->options) {
            auto *def = static_cast<DefElem *>(lfirst(lc));
            if (strcmp(def->defname, "template") == 0 && def->arg != nullptr)
                tmpl = defGetString(def);
        }
        return tmpl;
    }
    case T_DropdbStmt:
        *dropping = true;
        return reinterpret_cast<DropdbStmt *>(stmt)->dbname;
    case T_RenameStmt: {
        auto *r = reinterpret_cast<RenameStmt *>(stmt);
        return r->renameType == OBJECT_DATABASE ? r->subname : nullptr;
    }
    case T_AlterDatabaseStmt: {
        auto *a = reinterpret_cast<AlterDatabaseStmt *>(stmt);
        foreach (lc, a->options)
            if (strcmp(static_cast<DefElem *>(lfirst(lc))->defname, "tablespace") == 0)
                return a->dbname;
        return nullptr;
    }
    default:
        return nullptr;
    }
}

// The slots this session has asked to step aside and not yet let go: a
// session that exits meanwhile (FATAL, pg_terminate_backend) lets them go
// on its way out, so the worker is never kept away for good.
constexpr int kMaxAside = 4;
struct Aside {
    int slot;
    Oid database;
};
Aside asides[kMaxAside];
int aside_count = 0;

void let_go(int slot) {
    atomics::fetch_add(&slot_view(slot).state->step_aside, uint32_t(-1));
    wake_launcher();
}

void let_go_on_exit(int, Datum) {
    while (aside_count > 0)
        let_go(asides[--aside_count].slot);
}

}  // namespace

int step_aside_for(Node *stmt, bool *dropping) {
    if (!segment_attached())
        return -1;
    const char *name = database_needed_alone(stmt, dropping);
    if (name == nullptr)
        return -1;
    Oid database = get_database_oid(name, true);
    int slot = OidIsValid(database) && database != MyDatabaseId ? find_slot(database) : -1;
    if (slot < 0)
        return -1;
    static bool exit_callback = false;
    if (!exit_callback) {
        before_shmem_exit(let_go_on_exit, Datum(0));
        exit_callback = true;
    }
    if (aside_count == kMaxAside)
        return -1;  // not reached: one command at a time per session
    asides[aside_count++] = Aside{slot, database};
    // A count: several commands may use the same template at once.
    atomics::fetch_add(&slot_view(slot).state->step_aside, 1u);
    return slot;
}

void wait_for_worker_to_leave(int slot) {
    SharedState *st = slot_view(slot).state;
    for (int waited = 0; waited < kStepAsideWaitMs; waited += 10) {
        if (atomics::load_acquire(&st->worker_pid) == 0)
            return;
        int procno = atomics::load_acquire(&st->worker_procno);
        if (procno >= 0)
            SetLatch(&ProcGlobal->allProcs[procno].procLatch);
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10L,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

void step_back(int slot, bool dropped) {
    Oid database = InvalidOid;
    for (int i = aside_count - 1; i >= 0; i--)
        if (asides[i].slot == slot) {
            database = asides[i].database;
            asides[i] = asides[--aside_count];
            break;
        }
    // Let go before releasing: a slot released first could be claimed by
    // another database, whose count this would then take down.
    let_go(slot);
    if (dropped && OidIsValid(database))
        release_slot(slot, database);
}

}  // namespace fraiseql_cache
