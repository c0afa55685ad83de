// The one check of a domain name given by a caller (1 to kDomainMaxBytes
// bytes), and its error.
#pragma once

#include <cstddef>

#include "pg_fraiseql_cache/pair.hpp"

namespace fraiseql_cache {

inline bool domain_name_ok(std::size_t len) { return len > 0 && len <= kDomainMaxBytes; }

// ereport(ERROR) with SQLSTATE 22023, the length given and a hint. Called
// from C-style code, or through pg_call() from guarded code.
[[noreturn]] void raise_bad_domain_name(std::size_t len);

}  // namespace fraiseql_cache
