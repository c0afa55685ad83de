// contracts_api: per-tenant contract lists over HTTP, cached in Redis with
// pg_fraiseql_cache versions. Several instances can share one Redis: an
// entry computed by one is a hit for the others while its versions match.
//
// Environment: PGHOST, PGPORT, PGUSER, PGDATABASE (libpq); REDIS_HOST,
// REDIS_PORT (127.0.0.1:6379); CONTRACTS_TABLE (tv_contract; its domain is
// the name without tv_); PORT (8080; 0 picks a free one); INSTANCE (a name).
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <httplib.h>

#include "contract_repository.hpp"
#include "fraiseql_cache/client/redis_store.hpp"
#include "fraiseql_cache/client/version_watcher.hpp"
#include "fraiseql_cache/client/versioned_cache.hpp"
#include "http_api.hpp"

namespace fc = fraiseql_cache::client;

namespace {
std::string env(const char *name, const std::string &fallback) {
    const char *v = std::getenv(name);
    return v && *v ? v : fallback;
}
}  // namespace

int main() {
    // SIGTERM and SIGINT are taken by a thread of their own (sigwait), so
    // block them before any thread starts: every thread inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    try {
        const std::string table = env("CONTRACTS_TABLE", "tv_contract");
        const std::string domain = table.rfind("tv_", 0) == 0 ? table.substr(3) : table;

        fc::WatcherOptions wo;  // conninfo "" = the libpq environment
        fc::VersionWatcher watcher(wo);
        if (!watcher.wait_until_healthy(std::chrono::seconds(10)))
            std::fprintf(stderr, "contracts_api: watcher not healthy yet (%s); serving over SQL\n",
                         watcher.last_error().c_str());

        fc::RedisOptions ro;
        ro.host = env("REDIS_HOST", "127.0.0.1");
        ro.port = std::atoi(env("REDIS_PORT", "6379").c_str());
        ro.key_prefix = "contracts_api:";
        fc::RedisStore store(ro);
        fc::VersionedCache<std::string> cache(watcher, store, table);
        contracts_api::ContractRepository contracts("", table);

        httplib::Server server;
        contracts_api::Api api{watcher, cache, contracts, domain, env("INSTANCE", "contracts_api")};
        contracts_api::register_routes(server, api);

        int port = std::atoi(env("PORT", "8080").c_str());
        if (port == 0)
            port = server.bind_to_any_port("127.0.0.1");
        else if (!server.bind_to_port("127.0.0.1", port))
            port = -1;
        if (port <= 0) {
            std::fprintf(stderr, "contracts_api: cannot bind\n");
            return 1;
        }
        std::thread([&server, stop_signals] {
            int sig = 0;
            sigwait(&stop_signals, &sig);
            server.stop();
        }).detach();
        std::printf("contracts_api: listening on http://127.0.0.1:%d (domain %s)\n", port, domain.c_str());
        std::fflush(stdout);
        server.listen_after_bind();
        std::printf("contracts_api: stopped\n");
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "contracts_api: %s\n", e.what());
        return 1;
    }
}
