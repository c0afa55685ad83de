#include "http_api.hpp"

#include <exception>

#include "etag.hpp"

namespace contracts_api {

namespace fc = fraiseql_cache::client;

namespace {
const char *kUuid = "([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})";

std::string join(const std::vector<fc::Version> &v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); i++)
        s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}

// Every value of a header that may occur several times, as one list.
std::string header_values(const httplib::Request &req, const char *name) {
    std::string all;
    const std::size_t n = req.get_header_value_count(name);
    for (std::size_t i = 0; i < n; i++)
        all += (i ? ", " : "") + req.get_header_value(name, i);
    return all;
}

// What a cached GET's tag names (bump the v1 in make_etag() when the body's
// format changes) and how clients may keep it: per tenant, revalidated.
const char *kResource = "contracts_api/contracts";
const char *kCacheControl = "private, no-cache";

void fail(httplib::Response &res, int status, const std::string &what) {
    res.status = status;
    res.set_content(std::string("{\"error\": \"") + what + "\"}\n", "application/json");
}
}  // namespace

void register_routes(httplib::Server &server, Api &api) {
    server.Get(std::string("/tenants/") + kUuid + "/contracts",
               [&api](const httplib::Request &req, httplib::Response &res) {
                   const std::string tenant = fc::normalize_tenant(req.matches[1]);
                   const std::vector<std::string> domains{api.domain};
                   res.set_header("X-Served-By", api.instance);
                   const bool conditional = req.has_header("If-None-Match");
                   const std::string if_none_match = header_values(req, "If-None-Match");
                   if (conditional) {
                       // Decided from the versions alone (local, no round
                       // trip while the watcher is healthy): no cache read,
                       // no query. Unreadable versions: serve the full body.
                       std::string current;
                       try {
                           current = make_etag(kResource, tenant, domains, api.watcher.versions(tenant, domains));
                       } catch (const std::exception &) {
                       }
                       switch (evaluate_if_none_match(true, if_none_match, current)) {
                       case Precondition::Malformed:
                           fail(res, 400, "If-None-Match: not * nor a list of entity-tags");
                           return;
                       case Precondition::Matches:
                           if (current.empty())
                               break;
                           api.not_modified.fetch_add(1, std::memory_order_relaxed);
                           res.status = 304;
                           res.set_header("ETag", current);
                           res.set_header("Cache-Control", kCacheControl);
                           return;
                       default:
                           break;
                       }
                   }
                   try {
                       // The cache protocol: the domain's version for this
                       // tenant (local, no round trip), then the entry.
                       auto got = api.cache.fetch("contracts", tenant, domains,
                                                  [&] { return api.contracts.list_json(tenant); });
                       res.set_header("X-Cache", got.outcome == fc::CacheOutcome::Hit ? "hit" : "miss");
                       res.set_header("X-Cache-Versions", join(got.versions));
                       if (got.outcome == fc::CacheOutcome::Uncached) {
                           res.set_header("Cache-Control", "no-store");  // no versions: nothing to validate
                       } else {
                           // The versions the body is tagged with: read before
                           // its data, so the tag is never newer than the body.
                           res.set_header("ETag", make_etag(kResource, tenant, domains, got.versions));
                           res.set_header("Cache-Control", kCacheControl);
                       }
                       res.set_content("{\"tenant_id\": \"" + tenant + "\", \"contracts\": " + got.value + "}\n",
                                       "application/json");
                   } catch (const std::exception &) {
                       fail(res, 503, "database unavailable");
                   }
               });

    server.Put(std::string("/tenants/") + kUuid + "/contracts/([0-9]{1,18})",
               [&api](const httplib::Request &req, httplib::Response &res) {
                   const std::string tenant = fc::normalize_tenant(req.matches[1]);
                   const long long id = std::stoll(req.matches[2]);
                   try {
                       if (!api.contracts.rename(tenant, id, req.body)) {
                           fail(res, 404, "no such contract");
                           return;
                       }
                       // Our own write: COMMIT has returned (wait_for_bump =
                       // on), so the new version is visible; merge it now so
                       // the next GET on this instance cannot hit the old entry.
                       api.watcher.refresh(tenant, {api.domain});
                       res.status = 204;
                   } catch (const std::exception &) {
                       fail(res, 503, "database unavailable");
                   }
               });

    server.Get("/healthz", [&api](const httplib::Request &, httplib::Response &res) {
        auto w = api.watcher.counters();
        auto c = api.cache.counters();
        bool healthy = api.watcher.healthy();
        res.status = 200;  // still serving: over SQL while the watcher is down
        res.set_header("Cache-Control", "no-store");
        res.set_content(std::string("{\"watcher_healthy\": ") + (healthy ? "true" : "false") +
                            ", \"notifications\": " + std::to_string(w.notifications) +
                            ", \"reconnects\": " + std::to_string(w.connects ? w.connects - 1 : 0) +
                            ", \"hits\": " + std::to_string(c.hits) +
                            ", \"misses\": " + std::to_string(c.misses) +
                            ", \"refused_stale\": " + std::to_string(c.refused_stale) +
                            ", \"store_errors\": " + std::to_string(c.store_errors) +
                            ", \"data_queries\": " + std::to_string(api.contracts.list_queries()) +
                            ", \"not_modified\": " + std::to_string(api.not_modified.load()) + "}\n",
                        "application/json");
    });
}

}  // namespace contracts_api
