// The loader worker of a hot standby (see standby.hpp).
//
// Started by the launcher for each served database while the server is in
// recovery (hot standby, or an archive recovery with hot_standby on). It reads the replayed tables into shared memory
// when the standby starts and whenever a replayed reload record asks for it
// (the primary raised its tables wholesale), then marks the standby as
// serving from shared memory; the startup process keeps it current from
// then on. Exits, for good, when the standby is promoted.
//
// Why loading is exact: the loader publishes its database before taking its
// snapshot, so every version record replayed after that is applied by the
// startup process, and every one replayed before it follows a commit that
// the snapshot sees. Stores only raise, so the order of the two writers
// does not matter, except for a domain's scope (set, not raised): a scope
// change replayed while loading makes the loader read the tables again.
#include "pg_fraiseql_cache/bgworker_connect.hpp"
#include "pg_fraiseql_cache/boundary.hpp"
#include "pg_fraiseql_cache/persistence.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"
#include "pg_fraiseql_cache/standby.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

extern "C" {
#include "access/xlog.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"
}

namespace fraiseql_cache::standby {
namespace {

// Reads the tables into shared memory; false when there is nothing to load
// yet (no extension) or the load must be repeated.
bool load() {
    SharedState *st = shared.state;
    const uint64_t epoch = atomics::load_acquire(&st->scope_epoch);
    const uint64_t generation = atomics::load_acquire(&st->reload_generation);
    persistence::begin("fraiseql_cache: loading versions on a standby");
    if (persistence::extension_oid() == 0) {
        persistence::commit();
        return false;
    }
    persistence::WorkerStateRow state = persistence::read_state();
    std::vector<persistence::VersionRow> rows = persistence::read_versions();
    std::vector<DomainName> globals = persistence::read_global_domains();
    std::vector<persistence::VersionRow> floors = persistence::read_domain_floors();
    persistence::commit();

    Applier apply;
    // Promoted meanwhile (the worker is the writer now), or a scope change
    // or a raise replayed since the snapshot: read again.
    if (!RecoveryInProgress() || atomics::load_acquire(&st->scope_epoch) != epoch ||
        atomics::load_acquire(&st->reload_generation) != generation)
        return false;
    apply.worker_floor(state.floor);
    for (const persistence::VersionRow &r : rows)
        apply.pair(apply.domain(r.domain.bytes, r.domain.length()), r.tenant, r.version,
                   r.last_modified);
    for (const persistence::VersionRow &f : floors)
        apply.domain_floor(apply.domain(f.domain.bytes, f.domain.length()), f.version);
    shared.domains.for_each([&](int32_t id) {
        const DomainName &name = shared.domains.name(id);
        bool global = std::any_of(globals.begin(), globals.end(), [&](const DomainName &g) {
            return g.equals(name.bytes, shared.domains.name_length(id));
        });
        if (bool(shared.domains.flags(id) & kDomainGlobal) != global)
            apply.scope(id, global);
    });
    atomics::store_release(&st->standby_loaded, 1u);
    return true;
}

}  // namespace

void run() {
    SharedState *st = shared.state;
    atomics::store_release(&st->standby_database, uint32_t(MyDatabaseId));
    while (!ShutdownRequestPending && RecoveryInProgress()) {
        ResetLatch(MyLatch);
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            pg_call([] { ProcessConfigFile(PGC_SIGHUP); });
        }
        bool loaded = atomics::load_acquire(&st->standby_loaded) != 0 || load();
        // Loaded: woken by a reload record; otherwise try again shortly.
        long wait_ms = loaded ? 1000L : 100L;
        pg_call([&] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms,
                            PG_WAIT_EXTENSION);
            CHECK_FOR_INTERRUPTS();
        });
    }
}

}  // namespace fraiseql_cache::standby

using namespace fraiseql_cache;

extern "C" {

PGDLLEXPORT void fraiseql_cache_standby_loader_main(Datum arg) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    // Promoted already: the worker serves.
    if (!RecoveryInProgress())
        proc_exit(0);
    const Oid database = DatumGetObjectId(arg);
    int slot = find_slot(database);
    static uint32_t no_slot_failures = 0;
    if (!connect_with_backoff(database, slot >= 0
                                            ? &slot_view(slot).state->standby_connect_failures
                                            : &no_slot_failures))
        proc_exit(0);
    if (served_here() != ServedHere::kYes) {
        // Not started again until the extension is back (a replayed RELOAD)
        // or a session of the database asks.
        if (slot >= 0)
            atomics::store_release(&slot_view(slot).state->dormant, 1u);
        proc_exit(0);
    }
    slot = claim_slot(database);
    if (slot < 0)
        proc_exit(0);
    bind_slot(slot);
    int32_t none = -1;
    if (!atomics::compare_exchange(&shared.state->standby_loader_procno, &none,
                                   int32_t(my_proc_number())))
        proc_exit(0);  // another loader serves this database
    SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
    on_shmem_exit(
        [](int, Datum) {
            atomics::store_release(&shared.state->standby_loader_procno, int32_t(-1));
        },
        Datum(0));
    guarded([] { standby::run(); });
    // Promoted (the launcher starts the worker), or shutting down.
    proc_exit(0);
}

}  // extern "C"
