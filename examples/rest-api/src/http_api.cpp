#include "http_api.hpp"

#include <exception>

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

void fail(httplib::Response &res, int status, const std::string &what) {
    res.status = status;
    res.set_content(std::string("{\"error\": \"") + what + "\"}\n", "application/json");
}
}  // namespace

void register_routes(httplib::Server &server, Api &api) {
    server.Get(std::string("/tenants/") + kUuid + "/contracts",
               [&api](const httplib::Request &req, httplib::Response &res) {
                   const std::string tenant = fc::normalize_tenant(req.matches[1]);
                   try {
                       // The cache protocol: the domain's version for this
                       // tenant (local, no round trip), then the entry.
                       auto got = api.cache.fetch("contracts", tenant, {api.domain},
                                                  [&] { return api.contracts.list_json(tenant); });
                       res.set_header("X-Cache", got.outcome == fc::CacheOutcome::Hit ? "hit" : "miss");
                       res.set_header("X-Cache-Versions", join(got.versions));
                       res.set_header("X-Served-By", api.instance);
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
        res.set_content(std::string("{\"watcher_healthy\": ") + (healthy ? "true" : "false") +
                            ", \"notifications\": " + std::to_string(w.notifications) +
                            ", \"reconnects\": " + std::to_string(w.connects ? w.connects - 1 : 0) +
                            ", \"hits\": " + std::to_string(c.hits) +
                            ", \"misses\": " + std::to_string(c.misses) +
                            ", \"refused_stale\": " + std::to_string(c.refused_stale) +
                            ", \"store_errors\": " + std::to_string(c.store_errors) + "}\n",
                        "application/json");
    });
}

}  // namespace contracts_api
