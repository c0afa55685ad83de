#include "fraiseql_cache/client/types.hpp"

#include <stdexcept>

namespace fraiseql_cache::client {

const char *const kAllTenants = "00000000-0000-0000-0000-000000000000";

namespace {
int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string normalize_tenant(const std::string &tenant) {
    std::string s = tenant;
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}')
        s = s.substr(1, s.size() - 2);
    std::string digits;
    digits.reserve(32);
    const bool hyphenated = s.size() == 36;
    for (std::size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        if (hyphenated && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (c != '-')
                throw std::invalid_argument("not a uuid: \"" + tenant + "\"");
            continue;
        }
        int v = hex_value(c);
        if (v < 0)
            throw std::invalid_argument("not a uuid: \"" + tenant + "\"");
        digits += "0123456789abcdef"[v];
    }
    if (digits.size() != 32)
        throw std::invalid_argument("not a uuid: \"" + tenant + "\"");
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out += '-';
        out += digits[i];
    }
    return out;
}

}  // namespace fraiseql_cache::client
