#include "fraiseql_cache/client/entry_codec.hpp"


namespace fraiseql_cache::client {

namespace {
constexpr const char kMagic[] = "FCE1 ";
constexpr std::size_t kMagicLen = sizeof kMagic - 1;

// Reads an unsigned decimal number ending at `stop`; advances `pos` past it.
bool read_number(const std::string &s, std::size_t *pos, char stop, unsigned long long *out) {
    std::size_t i = *pos;
    unsigned long long v = 0;
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        unsigned d = unsigned(s[i] - '0');
        if (v > (~0ULL - d) / 10)
            return false;
        v = v * 10 + d;
        i++;
    }
    if (i == start || i - start > 20 || i >= s.size() || s[i] != stop)
        return false;
    *pos = i + 1;
    *out = v;
    return true;
}
}  // namespace

std::string encode_entry(const StoredEntry &e) {
    std::string out = kMagic;
    out += std::to_string(e.domains.size());
    out += '\n';
    for (std::size_t i = 0; i < e.domains.size(); i++) {
        Version v = i < e.versions.size() ? e.versions[i] : 0;
        out += std::to_string(v < 0 ? 0 : v);
        out += ' ';
        out += std::to_string(e.domains[i].size());
        out += ' ';
        out += e.domains[i];
        out += '\n';
    }
    out += e.value;
    return out;
}

std::optional<StoredEntry> decode_entry(const std::string &s) {
    if (s.compare(0, kMagicLen, kMagic) != 0)
        return std::nullopt;
    std::size_t pos = kMagicLen;
    unsigned long long n = 0;
    if (!read_number(s, &pos, '\n', &n) || n > s.size())
        return std::nullopt;
    StoredEntry e;
    e.domains.reserve(n);
    e.versions.reserve(n);
    for (unsigned long long i = 0; i < n; i++) {
        unsigned long long version = 0, len = 0;
        if (!read_number(s, &pos, ' ', &version) || version > 0x7fffffffffffffffULL ||
            !read_number(s, &pos, ' ', &len) || len > s.size() - pos ||
            pos + len >= s.size() || s[pos + len] != '\n')
            return std::nullopt;
        e.versions.push_back(Version(version));
        e.domains.push_back(s.substr(pos, len));
        pos += len + 1;
    }
    e.value = s.substr(pos);
    return e;
}

}  // namespace fraiseql_cache::client
