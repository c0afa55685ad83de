#include "fraiseql_cache/client/notification.hpp"

#include <stdexcept>

#include "fraiseql_cache/client/lsn.hpp"
#include "json_reader.hpp"

namespace fraiseql_cache::client {

namespace {

// One {"tenant_id": ..., "domain": ..., "version": ...} object.
bool read_update(detail::JsonReader &r, VersionUpdate *out) {
    if (!r.consume('{'))
        return false;
    bool have_tenant = false, have_domain = false, have_version = false;
    if (!r.consume('}')) {
        do {
            std::string key;
            if (!r.read_string(&key) || !r.consume(':'))
                return false;
            if (key == "tenant_id") {
                std::string t;
                if (!r.read_string(&t))
                    return false;
                try {
                    out->pair.tenant = normalize_tenant(t);
                } catch (const std::invalid_argument &) {
                    return false;
                }
                have_tenant = true;
            } else if (key == "domain") {
                if (!r.read_string(&out->pair.domain) || out->pair.domain.empty())
                    return false;
                have_domain = true;
            } else if (key == "version") {
                if (!r.read_int(&out->version))
                    return false;
                have_version = true;
            } else if (key == "lsn") {
                std::string text;
                if (!r.read_string(&text))
                    return false;
                auto lsn = parse_lsn(text);
                if (!lsn)
                    return false;
                out->lsn = *lsn;
            } else if (key == "domain_floor") {
                if (!r.read_int(&out->domain_floor))
                    return false;
            } else if (!r.skip_value()) {
                return false;
            }
        } while (r.consume(','));
        if (!r.consume('}'))
            return false;
    }
    return have_tenant && have_domain && have_version;
}

}  // namespace

std::optional<std::vector<VersionUpdate>> parse_notification(const std::string &payload) {
    detail::JsonReader r(payload);
    std::vector<VersionUpdate> out;
    if (r.peek() == '[') {
        r.consume('[');
        if (!r.consume(']')) {
            do {
                VersionUpdate u;
                if (!read_update(r, &u))
                    return std::nullopt;
                out.push_back(std::move(u));
            } while (r.consume(','));
            if (!r.consume(']'))
                return std::nullopt;
        }
    } else {
        VersionUpdate u;
        if (!read_update(r, &u))
            return std::nullopt;
        out.push_back(std::move(u));
    }
    if (!r.at_end())
        return std::nullopt;
    return out;
}

}  // namespace fraiseql_cache::client
