// The conformance scenario through the C++ client (clients/cpp).
//
// Usage: conformance_driver SCENARIO.json RUN   (server from PGHOST, PGPORT...)
// Prints one JSON line per observation on stdout (see README.md next to this file).
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "fraiseql_cache/client/version_watcher.hpp"
#include "mini_json.hpp"

namespace fc = fraiseql_cache::client;
using conformance::Json;
using Clock = std::chrono::steady_clock;

namespace {

std::string subst(std::string s, const std::string &run) {
    for (std::size_t at; (at = s.find("{run}")) != std::string::npos;)
        s.replace(at, 5, run);
    return s;
}

struct Pair {
    std::string label, tenant, domain;
};

class Driver {
  public:
    Driver(const Json &scenario, std::string run)
        : scenario_(scenario), run_(std::move(run)), admin_(""), watcher_(options()) {
        for (const auto &kv : scenario.at("pairs").o)
            pairs_.push_back(Pair{kv.first, subst(kv.second.at("tenant").s, run_),
                                  subst(kv.second.at("domain").s, run_)});
    }

    void run() {
        for (const Json &step : scenario_.at("steps").a) {
            if (step.has("sql")) {
                for (const Json &statement : step.at("sql").a)
                    exec(subst(statement.s, run_));
            } else if (step.has("await")) {
                await(subst(step.at("await").s, run_));
            } else if (step.has("await_heartbeat")) {
                auto deadline = Clock::now() + std::chrono::seconds(scenario_.at("await_timeout_s").i);
                while (watcher_.counters().heartbeats == 0) {
                    if (Clock::now() >= deadline)
                        throw std::runtime_error("await_heartbeat timed out");
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                }
            } else if (step.has("kill_listener")) {
                killed_ = watcher_.listener_pid();
                if (killed_ == 0)
                    throw std::runtime_error("kill_listener: the listener is not connected");
                exec("SELECT pg_terminate_backend(" + std::to_string(killed_) + ")");
            } else if (step.has("observe")) {
                observe(step);
            } else {
                throw std::runtime_error("unknown step");
            }
        }
    }

  private:
    static fc::WatcherOptions options() {
        fc::WatcherOptions o;
        o.resync_interval = std::chrono::milliseconds(0);  // only the protocol's own rules
        return o;
    }

    pqxx::result exec(const std::string &sql) {
        pqxx::nontransaction tx(admin_);
        return tx.exec(sql);
    }

    long long server(const Pair &p) {
        pqxx::nontransaction tx(admin_);
        return tx.exec_params("SELECT fraiseql_cache.current_version($1::uuid, $2)", p.tenant, p.domain)[0][0]
            .as<long long>();
    }

    void await(const std::string &sql) {
        auto deadline = Clock::now() + std::chrono::seconds(scenario_.at("await_timeout_s").i);
        while (!exec(sql)[0][0].as<bool>()) {
            if (Clock::now() >= deadline)
                throw std::runtime_error("await timed out: " + sql);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }

    void observe(const Json &step) {
        const bool want_reconnect = step.truthy("reconnected");
        auto deadline = Clock::now() + std::chrono::seconds(scenario_.at("observe_timeout_s").i);
        std::map<std::string, long long> seen, truth;
        bool local = false, reconnected = false;
        for (;;) {
            int pid = watcher_.listener_pid();
            reconnected = pid != 0 && killed_ != 0 && pid != killed_;
            local = watcher_.healthy();
            for (const Pair &p : pairs_) {
                auto before = watcher_.counters().local_lookups;
                seen[p.label] = watcher_.versions(p.tenant, {p.domain}).at(0);
                local = local && watcher_.counters().local_lookups == before + 1;
            }
            for (const Pair &p : pairs_)
                truth[p.label] = server(p);
            bool done = local && seen == truth && (!want_reconnect || reconnected);
            if (done || Clock::now() >= deadline)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (base_.empty())
            base_ = prev_ = seen;
        std::ostringstream out;
        out << "{\"step\": " << conformance::quote(step.at("observe").s)
            << ", \"local\": " << (local ? "true" : "false")
            << ", \"matches_server\": " << (seen == truth ? "true" : "false") << ", \"pairs\": {";
        bool first = true;
        for (const Pair &p : pairs_) {
            long long v = seen[p.label];
            out << (first ? "" : ", ") << conformance::quote(p.label) << ": {\"version\": " << v
                << ", \"server\": " << truth[p.label] << ", \"delta\": " << v - base_[p.label]
                << ", \"changed\": " << (v != prev_[p.label] ? "true" : "false") << "}";
            first = false;
        }
        out << "}";
        if (want_reconnect) {
            out << ", \"reconnected\": " << (reconnected ? "true" : "false");
            killed_ = 0;
        }
        out << "}";
        prev_ = seen;
        std::cout << out.str() << std::endl;
    }

    const Json &scenario_;
    std::string run_;
    pqxx::connection admin_;
    fc::VersionWatcher watcher_;
    std::vector<Pair> pairs_;
    std::map<std::string, long long> base_, prev_;
    int killed_ = 0;
};

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: conformance_driver SCENARIO.json RUN\n";
        return 2;
    }
    try {
        std::ifstream in(argv[1]);
        if (!in)
            throw std::runtime_error(std::string("cannot read ") + argv[1]);
        std::stringstream text;
        text << in.rdbuf();
        std::string body = text.str();
        Json scenario = conformance::JsonParser(body).parse();
        Driver driver(scenario, argv[2]);
        driver.run();
    } catch (const std::exception &e) {
        std::cout << "{\"error\": " << conformance::quote(e.what()) << "}" << std::endl;
        return 1;
    }
    return 0;
}
