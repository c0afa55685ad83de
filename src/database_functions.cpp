// SQL functions about the database being served: _serves_this_database(),
// _serve_this_database() (run by CREATE EXTENSION), _require_ready().
#include "pg_fraiseql_cache/pending.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "commands/dbcommands.h"
}

using namespace fraiseql_cache;

extern "C" {

PG_FUNCTION_INFO_V1(fraiseql_cache_serves_this_database);
PG_FUNCTION_INFO_V1(fraiseql_cache_serve_this_database);
PG_FUNCTION_INFO_V1(fraiseql_cache_require_ready);

// Whether versions are kept for this database (preloaded, and served).
Datum fraiseql_cache_serves_this_database(PG_FUNCTION_ARGS) {
    PG_RETURN_BOOL(serves_this_database());
}

// Run by CREATE EXTENSION: claims this database's slot (53400 when none is
// free) so that the launcher starts its worker. Nothing without preloading,
// or when fraiseql_cache.database names another database.
Datum fraiseql_cache_serve_this_database(PG_FUNCTION_ARGS) {
    if (segment_attached() && database_allowed(get_database_name(MyDatabaseId))) {
        require_served_database();
        if (!pending::ensure_ready())
            ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
        pending::serve_requested = true;
    }
    PG_RETURN_VOID();
}

// Raises the preload / served-database error, for the PL/pgSQL functions.
Datum fraiseql_cache_require_ready(PG_FUNCTION_ARGS) {
    require_served_database();
    PG_RETURN_VOID();
}

}  // extern "C"
