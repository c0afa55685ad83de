#include "fraiseql_cache/client/lsn.hpp"

#include <cstdio>

namespace fraiseql_cache::client {

namespace {
// One to eight hex digits from `s[*i]` up to `stop` (or the end).
bool hex_part(const std::string &s, std::size_t *i, char stop, std::uint32_t *out) {
    std::uint64_t v = 0;
    std::size_t digits = 0;
    while (*i < s.size() && s[*i] != stop) {
        char c = s[*i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = v * 16 + std::uint64_t(d);
        ++*i;
        if (++digits > 8)
            return false;
    }
    *out = std::uint32_t(v);
    return digits > 0;
}
}  // namespace

std::optional<Lsn> parse_lsn(const std::string &text) {
    std::size_t i = 0;
    std::uint32_t hi = 0, lo = 0;
    if (!hex_part(text, &i, '/', &hi) || i >= text.size() || text[i] != '/')
        return std::nullopt;
    i++;
    if (!hex_part(text, &i, '\0', &lo) || i != text.size())
        return std::nullopt;
    return (Lsn(hi) << 32) | Lsn(lo);
}

std::string format_lsn(Lsn lsn) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%X/%X", unsigned(lsn >> 32), unsigned(lsn & 0xffffffffu));
    return buf;
}

}  // namespace fraiseql_cache::client
