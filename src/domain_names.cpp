// The error of a bad domain name (see domain_names.hpp).
#include "pg_fraiseql_cache/domain_names.hpp"

#include "pg_fraiseql_cache/pg.hpp"

namespace fraiseql_cache {

void raise_bad_domain_name(std::size_t len) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("cache domain must be 1 to %d bytes long", int(kDomainMaxBytes)),
                    errdetail("The domain given is %zu bytes long.", len),
                    errhint("Domains are names such as 'contract'; fraiseql_cache.tracked_tables "
                            "lists the domains of tracked tables.")));
    pg_unreachable();
}

}  // namespace fraiseql_cache
