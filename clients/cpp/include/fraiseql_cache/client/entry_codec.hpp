// The byte form of a StoredEntry, for stores shared between processes
// (Redis): a header with the domains and their versions, then the value.
//
//   "FCE1 " <n> "\n"  then n times  <version> " " <length> " " <domain> "\n"
//   then the value bytes (binary safe)
#pragma once

#include <optional>
#include <string>

#include "fraiseql_cache/client/cache_store.hpp"

namespace fraiseql_cache::client {

std::string encode_entry(const StoredEntry &entry);
// nullopt for bytes that are not an encoded entry (another writer, a
// truncated value): the cache treats them as a miss.
std::optional<StoredEntry> decode_entry(const std::string &bytes);

}  // namespace fraiseql_cache::client
