// Parsing of the worker's NOTIFY payloads:
//   {"tenant_id": "<uuid>", "domain": "<name>", "version": N, "lsn": "X/Y"}
// or (fraiseql_cache.notify_format = array) a JSON array of such objects.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fraiseql_cache/client/types.hpp"

namespace fraiseql_cache::client {

// The updates a payload carries, or nullopt when it is not a valid payload
// (the caller should then re-read its versions: something was said that it
// could not understand, such as an "lsn" that is not "X/Y"). Unknown
// members are ignored; tenant ids come back in
// canonical form.
std::optional<std::vector<VersionUpdate>> parse_notification(const std::string &payload);

}  // namespace fraiseql_cache::client
