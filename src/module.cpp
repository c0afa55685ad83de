// Module entry: PG_MODULE_MAGIC and _PG_init.
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/pg.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"
#include "pg_fraiseql_cache/standby.hpp"
#include "pg_fraiseql_cache/launcher.hpp"

#include <cstdio>

extern "C" {
#include "postmaster/bgworker.h"
}

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

namespace fraiseql_cache {

}  // namespace fraiseql_cache

// Without shared_preload_libraries only the parameters exist; every function
// then reports that the library must be preloaded.
void _PG_init(void) {
    fraiseql_cache::define_settings();
    if (!process_shared_preload_libraries_in_progress)
        return;
    fraiseql_cache::check_startup_settings();
    fraiseql_cache::install_shmem_hooks();
    fraiseql_cache::install_ddl_hooks();
    // It starts the worker of every served database (launcher.cpp).
    fraiseql_cache::register_launcher();
#if PG_VERSION_NUM >= 150000
    // Hot standbys follow the primary's versions through WAL records of
    // their own (standby.hpp); before 15 they answer from their tables.
    fraiseql_cache::standby::register_resource_manager();
#endif
}
