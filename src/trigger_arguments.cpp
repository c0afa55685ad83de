// _trigger_argument(tgargs bytea, n int), for the extension's SQL functions
// that inspect triggers.
#include "pg_fraiseql_cache/pg.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

extern "C" {

PG_FUNCTION_INFO_V1(fraiseql_cache_trigger_argument);

// _trigger_argument(tgargs bytea, n int): pg_trigger stores a trigger's
// arguments as NUL-terminated strings one after another.
Datum fraiseql_cache_trigger_argument(PG_FUNCTION_ARGS) {
    bytea *args = PG_GETARG_BYTEA_PP(0);
    int32 n = PG_GETARG_INT32(1);
    const char *p = VARDATA_ANY(args);
    const char *end = p + VARSIZE_ANY_EXHDR(args);
    for (int32 i = 1; p < end; i++) {
        const char *nul = static_cast<const char *>(memchr(p, '\0', size_t(end - p)));
        const char *stop = nul != nullptr ? nul : end;
        if (i == n) {
            pg_verifymbstr(p, int(stop - p), false);
            PG_RETURN_TEXT_P(cstring_to_text_with_len(p, int(stop - p)));
        }
        p = stop + 1;
    }
    PG_RETURN_NULL();
}

}  // extern "C"
