#include "etag.hpp"

#include <cstdint>
#include <cstdio>

namespace contracts_api {

namespace {
void fnv1a(std::uint64_t &h, const std::string &s) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    h ^= 0xff;  // a separator no UTF-8 text contains, so fields cannot run together
    h *= 1099511628211ULL;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// etagc = %x21 / %x23-7E / obs-text (%x80-FF)
bool is_etagc(unsigned char c) { return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80; }

// The opaque-tag (with its quotes) of the entity-tag at `s[i]`, advancing i;
// empty when there is none there.
std::string opaque_tag_at(const std::string &s, std::size_t &i) {
    if (s.compare(i, 2, "W/") == 0)
        i += 2;
    if (i >= s.size() || s[i] != '"')
        return "";
    std::size_t j = i + 1;
    while (j < s.size() && is_etagc(static_cast<unsigned char>(s[j])))
        j++;
    if (j >= s.size() || s[j] != '"')
        return "";
    std::string tag = s.substr(i, j + 1 - i);
    i = j + 1;
    return tag;
}
}  // namespace

std::string make_etag(const std::string &resource, const std::string &tenant,
                      const std::vector<std::string> &domains,
                      const std::vector<fraiseql_cache::client::Version> &versions) {
    std::uint64_t h = 14695981039346656037ULL;
    fnv1a(h, resource);
    fnv1a(h, tenant);
    for (std::size_t i = 0; i < domains.size(); i++) {
        fnv1a(h, domains[i]);
        fnv1a(h, i < versions.size() ? std::to_string(versions[i]) : "-");
    }
    h ^= h >> 33;  // a final mix, so neighbouring versions give unrelated tags
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return std::string("\"v1-") + hex + "\"";
}

Precondition evaluate_if_none_match(bool has_header, const std::string &v, const std::string &current_etag) {
    if (!has_header)
        return Precondition::Absent;
    std::size_t i = 0;
    auto skip_ows = [&] { while (i < v.size() && is_ows(v[i])) i++; };
    skip_ows();
    if (i < v.size() && v[i] == '*') {
        i++;
        skip_ows();
        // "*" stands alone; this resource always has a current representation.
        return i == v.size() ? Precondition::Matches : Precondition::Malformed;
    }
    // Weak comparison: the opaque-tags, without any W/ prefix.
    const std::string current = current_etag.compare(0, 2, "W/") == 0 ? current_etag.substr(2) : current_etag;
    bool matched = false;
    // #entity-tag: elements separated by commas; empty elements (and an
    // empty list, which matches nothing) are allowed.
    while (true) {
        skip_ows();
        if (i == v.size())
            break;
        if (v[i] == ',') {
            i++;
            continue;
        }
        std::string tag = opaque_tag_at(v, i);
        if (tag.empty())
            return Precondition::Malformed;
        matched = matched || tag == current;
        skip_ows();
        if (i < v.size() && v[i] != ',')
            return Precondition::Malformed;
    }
    return matched ? Precondition::Matches : Precondition::NoMatch;
}

}  // namespace contracts_api
