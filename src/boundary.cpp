#include "pg_fraiseql_cache/boundary.hpp"

#include <cstring>

namespace fraiseql_cache::detail {

void copy_text(char (&dst)[512], const char *src) {
    std::strncpy(dst, src != nullptr ? src : "", sizeof dst - 1);
    dst[sizeof dst - 1] = '\0';
}

void raise(const CaughtError &caught) {
    if (caught.pg != nullptr)
        ReThrowError(caught.pg);
    ereport(ERROR, (errcode(caught.sqlstate), errmsg("%s", caught.message),
                    caught.hint[0] ? errhint("%s", caught.hint) : 0,
                    caught.detail[0] ? errdetail("%s", caught.detail) : 0));
    pg_unreachable();
}

}  // namespace fraiseql_cache::detail
