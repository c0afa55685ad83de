// Entity tags for the cached GET responses (RFC 9110 §8.8.3) and the
// If-None-Match precondition (§13.1.2).
//
// A response's ETag is derived only from what its body depends on: the
// representation format, the tenant, and each domain with its version. As
// versions are never reused (the extension's I3), a tag names one state of
// the data for ever, and the precondition can be decided from the versions
// alone, without reading the cache or the database.
#pragma once

#include <string>
#include <vector>

#include "fraiseql_cache/client/types.hpp"

namespace contracts_api {

// A strong tag, quoted as it goes on the wire: "v1-<16 hex digits>" (a
// 64-bit FNV-1a hash of resource, tenant, domains and versions). `resource`
// names what is served (different resources never share a tag).
std::string make_etag(const std::string &resource, const std::string &tenant,
                      const std::vector<std::string> &domains,
                      const std::vector<fraiseql_cache::client::Version> &versions);

enum class Precondition {
    Absent,     // no If-None-Match: serve normally
    Matches,    // a listed tag (or "*") matches: 304 Not Modified
    NoMatch,    // none matches: serve normally
    Malformed,  // neither "*" nor a (possibly empty) list of entity-tags: 400
};

// Evaluates an If-None-Match field value (all occurrences joined by ", ")
// against the current tag, with the weak comparison §13.1.2 prescribes:
// W/"x" and "x" match each other. `has_header` false means no such field.
Precondition evaluate_if_none_match(bool has_header, const std::string &field_value,
                                    const std::string &current_etag);

}  // namespace contracts_api
