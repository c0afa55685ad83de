// Literals for parameters sent as text.
#pragma once

#include <string>
#include <vector>

namespace fraiseql_cache::client::detail {

// A PostgreSQL array literal of text elements: {"a","b \"c\""}; every
// element quoted, backslash and double quote escaped.
std::string text_array_literal(const std::vector<std::string> &items);

}  // namespace fraiseql_cache::client::detail
