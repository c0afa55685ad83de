#include "sql_literals.hpp"

namespace fraiseql_cache::client::detail {

std::string text_array_literal(const std::vector<std::string> &items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); i++) {
        if (i)
            out += ',';
        out += '"';
        for (char c : items[i]) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

}  // namespace fraiseql_cache::client::detail
