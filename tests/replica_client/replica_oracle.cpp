// The replica-mode VersionWatcher against a real primary and hot standby.
//
//   replica_oracle --listen CONNINFO --primary CONNINFO --standby CONNINFO
//                  --tenants T1,T2,... [--seconds N] [--after-seconds N]
//                  [--clients N] [--writers N] [--mode replica|plain]
//                  [--lookups exact|pending] [--no-failover]
//
// Writers commit on the primary (--primary); cache clients read their data
// from the standby and take versions from one VersionWatcher (listening on
// --listen, reading on the standby; --mode plain: an ordinary watcher on the
// primary, which the stale-read rule must catch; --lookups pending: without
// WatcherOptions::exact_lookups, hits may lag by the notification delay).
// Every hit is judged by the
// rule of tests/standby/oracle.py: stale if it serves data older than a
// commit that had returned and whose WAL the standby had replayed before the
// version read (asserted: 0).
//
// Then the failover (unless --no-failover): the program prints
// "ready-for-failover" and waits for "promoted" on stdin, meanwhile the
// caller stops the primary and promotes the standby. The watcher must follow
// (--listen names both servers, target_session_attrs=read-write), drop its
// map and reload; every version after must be above every version before,
// every entry cached before must miss, and no hit after may be tagged with a
// version of the old primary.
//
// Prints PASS:/FAIL: lines and measurements; exits 0 when every check passed.
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "cache_client.hpp"
#include "fraiseql_cache/client/client.hpp"
#include "workload.hpp"

namespace fc = fraiseql_cache::client;
using namespace replica_client;

namespace {

struct Args {
    std::string listen, primary, standby, mode = "replica", lookups = "exact";
    std::vector<std::string> tenants;
    int seconds = 10, after_seconds = 5, clients = 4, writers = 2;
    bool failover = true;
};

[[noreturn]] void usage(const std::string &why) {
    std::cerr << "replica_oracle: " << why << "\n"
              << "usage: replica_oracle --listen CONNINFO --primary CONNINFO --standby CONNINFO "
                 "--tenants T1,T2 [--seconds N] [--after-seconds N] [--clients N] [--writers N] "
                 "[--mode replica|plain] [--lookups exact|pending] [--no-failover]\n";
    std::exit(2);
}

int positive(const std::string &name, const std::string &v) {
    try {
        std::size_t used = 0;
        int n = std::stoi(v, &used);
        if (used == v.size() && n > 0)
            return n;
    } catch (const std::exception &) {
    }
    usage(name + " needs a positive number, got \"" + v + "\"");
}

Args parse(int argc, char **argv) {
    Args a;
    for (int i = 1; i < argc; i++) {
        std::string k = argv[i];
        if (k == "--no-failover") {
            a.failover = false;
            continue;
        }
        if (i + 1 >= argc)
            usage(k + " needs a value");
        std::string v = argv[++i];
        if (k == "--listen")
            a.listen = v;
        else if (k == "--primary")
            a.primary = v;
        else if (k == "--standby")
            a.standby = v;
        else if (k == "--mode")
            a.mode = v;
        else if (k == "--lookups")
            a.lookups = v;
        else if (k == "--seconds")
            a.seconds = positive(k, v);
        else if (k == "--after-seconds")
            a.after_seconds = positive(k, v);
        else if (k == "--clients")
            a.clients = positive(k, v);
        else if (k == "--writers")
            a.writers = positive(k, v);
        else if (k == "--tenants") {
            std::stringstream ss(v);
            std::string t;
            while (std::getline(ss, t, ','))
                if (!t.empty())
                    a.tenants.push_back(fc::normalize_tenant(t));
        } else
            usage("unknown argument " + k);
    }
    if (a.listen.empty() || a.primary.empty() || a.standby.empty() || a.tenants.empty())
        usage("--listen, --primary, --standby and --tenants are required");
    if (a.mode != "replica" && a.mode != "plain")
        usage("--mode is replica or plain");
    if (a.lookups != "exact" && a.lookups != "pending")
        usage("--lookups is exact or pending");
    return a;
}

int failures = 0;
void check(const std::string &name, bool ok, const std::string &why = "") {
    std::cout << (ok ? "PASS: " : "FAIL: ") << name << (ok || why.empty() ? "" : " (" + why + ")")
              << std::endl;
    if (!ok)
        failures++;
}

std::string errors_of(const std::vector<Worker *> &ws) {
    std::string out;
    for (Worker *w : ws)
        if (!w->error().empty())
            out += (out.empty() ? "" : "; ") + w->error();
    return out;
}

// Runs writers and clients for `seconds`; returns the clients' total.
ClientTally run_load(const std::string &write_conn, const std::string &read_conn,
                     const Args &a, int seconds, fc::VersionedCache<std::string> &cache, Marks *marks,
                     Returned &returned, const SeqMap *pre_max, std::uint64_t *commits,
                     std::string *errors) {
    std::vector<std::unique_ptr<Writer>> writers;
    std::vector<std::unique_ptr<CacheClient>> clients;
    std::vector<Worker *> all;
    if (marks)
        all.push_back(marks);
    for (int i = 0; i < a.writers; i++) {
        writers.push_back(std::make_unique<Writer>(write_conn, a.tenants, unsigned(i), returned));
        all.push_back(writers.back().get());
    }
    for (int i = 0; i < a.clients; i++) {
        clients.push_back(std::make_unique<CacheClient>(read_conn, a.tenants, unsigned(100 + i),
                                                        cache, marks, &returned, pre_max));
        all.push_back(clients.back().get());
    }
    for (Worker *w : all)
        w->start();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    for (Worker *w : all)
        w->stop();
    *commits = 0;
    for (auto &w : writers)
        *commits += w->commits();
    *errors = errors_of(all);
    ClientTally total;
    for (auto &c : clients)
        total.add(c->tally());
    return total;
}

void print_tally(const std::string &label, const ClientTally &t) {
    const std::uint64_t lookups = t.hits + t.misses;
    std::cout << "  " << label << ": hits " << t.hits << ", misses " << t.misses << ", hit ratio "
              << (lookups ? 100.0 * double(t.hits) / double(lookups) : 0.0) << " %, stale "
              << t.stale << "; strict rule (not asserted): " << t.strict_stale
              << " hits older than the node's data just before the version read; version errors "
              << t.errors << std::endl;
    for (const std::string &e : t.examples)
        std::cout << "    stale hit: " << e << std::endl;
}

void print_watcher(const fc::VersionWatcher &w) {
    fc::WatcherCounters c = w.counters();
    std::cout << "  watcher: notifications " << c.notifications << ", gated " << c.gated
              << ", replay polls " << c.replay_polls << ", lookups that waited for a poll "
              << c.lookup_waits << " (timed out " << c.lookup_wait_timeouts << "), local lookups " << c.local_lookups << ", first reads "
              << c.first_reads << ", SQL fallbacks " << c.sql_fallbacks << ", loads " << c.loads
              << ", connects " << c.connects << ", failovers " << c.failovers << std::endl;
}

// wait_timeouts + stalled_waits of the primary's stats().
long long commit_waits_cut_short(const std::string &conninfo) {
    pqxx::connection p(conninfo);
    pqxx::nontransaction tx(p);
    pqxx::result r = tx.exec("SELECT wait_timeouts + stalled_waits FROM fraiseql_cache.stats()");
    return r[0][0].as<long long>();
}

long long primary_version(pqxx::connection &c, const std::string &tenant) {
    pqxx::nontransaction tx(c);
    return tx.exec_params("SELECT fraiseql_cache.current_version($1::uuid, 'contract')", tenant)[0][0]
        .as<long long>();
}

}  // namespace

int main(int argc, char **argv) {
    Args a = parse(argc, argv);
    fc::WatcherOptions o;
    o.conninfo = a.listen;
    if (a.mode == "replica")
        o.replica_conninfo = a.standby;
    o.exact_lookups = a.lookups == "exact";
    o.reconnect_initial = std::chrono::milliseconds(50);
    o.reconnect_max = std::chrono::milliseconds(500);
    fc::VersionWatcher watcher(o);
    if (!watcher.wait_until_healthy(std::chrono::seconds(60))) {
        check("the watcher becomes healthy", false, watcher.last_error());
        return 1;
    }
    fc::LruStore store(10000);
    fc::VersionedCache<std::string> cache(watcher, store, "replica_oracle");

    // ---- standby clients while writers commit on the primary -----------------
    std::cout << "--- " << a.mode << " watcher (" << a.lookups
              << " lookups), clients on the standby, writers on the primary" << std::endl;
    Returned returned;
    Marks marks(a.primary, returned);
    std::uint64_t commits = 0;
    std::string errors;
    const long long waits_before = commit_waits_cut_short(a.primary);
    ClientTally follow =
        run_load(a.primary, a.standby, a, a.seconds, cache, &marks, returned, nullptr, &commits, &errors);
    std::cout << "  " << commits << " commits on the primary in " << a.seconds << " s, "
              << marks.count() << " WAL marks" << std::endl;
    print_tally("standby cache clients", follow);
    print_watcher(watcher);
    // Commits that returned before their bump was published (a stalled or
    // overloaded worker) break read-your-writes for every reader: shown next
    // to the stale count, never subtracted from it.
    const long long wait_timeouts = commit_waits_cut_short(a.primary) - waits_before;
    std::cout << "  primary: " << wait_timeouts
              << " commits returned before their bump was published (wait_timeouts + "
                 "stalled_waits during the load)"
              << std::endl;
    check("load ran without errors", errors.empty(), errors);
    check("the oracle checked hits", follow.hits > 0 && commits > 0, "no hits or no commits");
    check("no stale hit on the standby", follow.stale == 0,
          std::to_string(follow.stale) + " stale hits" +
              (wait_timeouts ? "; the primary had " + std::to_string(wait_timeouts) +
                                   " commits return before their bump was published"
                             : std::string()));
    if (!a.failover)
        return failures ? 1 : 0;

    // ---- failover ---------------------------------------------------------------
    std::cout << "--- failover: primary stopped, standby promoted" << std::endl;
    SeqMap pre_max;
    std::map<std::string, std::vector<fc::Version>> tagged;
    {
        pqxx::connection p(a.primary);
        for (const std::string &t : a.tenants) {
            long long v = std::max<long long>(primary_version(p, t),
                                              watcher.versions(t, {"contract"})[0]);
            pre_max[t] = v;
            if (auto e = store.get(cache.store_key(t, "max_seq")))
                tagged[t] = e->versions;
        }
    }
    const std::uint64_t loads_before = watcher.counters().loads;
    const std::uint64_t failovers_before = watcher.counters().failovers;
    std::cout << "ready-for-failover" << std::endl;
    std::string line;
    if (!std::getline(std::cin, line) || line != "promoted") {
        check("the failover happened", false, "expected \"promoted\" on stdin, got \"" + line + "\"");
        return 1;
    }
    const auto promoted_at = std::chrono::steady_clock::now();
    bool followed = false;
    while (std::chrono::steady_clock::now() - promoted_at < std::chrono::seconds(120)) {
        if (watcher.counters().failovers > failovers_before && watcher.healthy()) {
            followed = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - promoted_at)
                            .count();
    std::cout << "  watcher followed the new primary " << took << " s after the promotion"
              << std::endl;
    print_watcher(watcher);
    check("the watcher detects the new primary, drops its map and reloads",
          followed && watcher.counters().loads > loads_before, watcher.last_error());

    int not_above = 0, entries_hit = 0;
    pqxx::connection promoted(a.standby);
    for (const std::string &t : a.tenants) {
        fc::Version v = watcher.versions(t, {"contract"})[0];
        if (v <= pre_max[t]) {
            not_above++;
            std::cout << "    tenant " << t << ": version " << v << " after, " << pre_max[t]
                      << " before" << std::endl;
        }
        auto r = cache.fetch("max_seq", t, {"contract"}, [&] {
            pqxx::nontransaction tx(promoted);
            return tx.exec_params("SELECT max(seq) FROM tv_contract WHERE tenant_id = $1", t)[0][0]
                .as<std::string>();
        });
        if (r.outcome == fc::CacheOutcome::Hit)
            entries_hit++;
    }
    std::cout << "  " << tagged.size() << " entries cached before the failover" << std::endl;
    check("every version after the failover is above every version before", not_above == 0,
          std::to_string(not_above) + " tenants not raised");
    check("no entry cached before the failover serves as fresh", entries_hit == 0 && !tagged.empty(),
          std::to_string(entries_hit) + " of " + std::to_string(tagged.size()) + " entries hit");

    // ---- writers and clients on the new primary -----------------------------------
    Returned after_returned;
    ClientTally after = run_load(a.standby, a.standby, a, a.after_seconds, cache, nullptr, after_returned, &pre_max,
                                 &commits, &errors);
    std::cout << "  after the failover: " << commits << " commits in " << a.after_seconds << " s"
              << std::endl;
    print_tally("clients on the new primary (primary rule, not asserted)", after);
    print_watcher(watcher);
    check("load after the failover ran without errors", errors.empty(), errors);
    check("no hit after the failover is tagged with the old primary's versions",
          after.old_fresh == 0 && after.hits > 0,
          std::to_string(after.old_fresh) + " such hits, " + std::to_string(after.hits) + " hits");
    return failures ? 1 : 0;
}
