#include "cache_client.hpp"

#include <chrono>
#include <random>
#include <thread>

#include <pqxx/pqxx>

#include "fraiseql_cache/client/lsn.hpp"

namespace replica_client {

void ClientTally::add(const ClientTally &o) {
    hits += o.hits;
    misses += o.misses;
    stale += o.stale;
    strict_stale += o.strict_stale;
    errors += o.errors;
    old_fresh += o.old_fresh;
    for (const std::string &e : o.examples)
        if (examples.size() < 5)
            examples.push_back(e);
}

namespace {
long long max_seq(pqxx::connection &c, const std::string &tenant) {
    pqxx::nontransaction tx(c);
    return tx.exec_params("SELECT max(seq) FROM tv_contract WHERE tenant_id = $1", tenant)[0][0]
        .as<long long>();
}

std::uint64_t replay_lsn(pqxx::connection &c) {
    pqxx::nontransaction tx(c);
    auto f = tx.exec("SELECT pg_last_wal_replay_lsn()::text")[0][0];
    if (f.is_null())
        return 0;
    auto lsn = fraiseql_cache::client::parse_lsn(f.as<std::string>());
    return lsn ? *lsn : 0;
}
}  // namespace

void CacheClient::body() {
    namespace fc = fraiseql_cache::client;
    pqxx::connection c(conninfo_);
    std::mt19937 rng(seed_);
    std::uniform_int_distribution<std::size_t> pick(0, tenants_.size() - 1);
    const std::vector<std::string> domains{"contract"};
    while (!stopping_.load()) {
        const std::string &t = tenants_[pick(rng)];
        long long required = 0;
        {
            SeqMap req = marks_ ? marks_->required(replay_lsn(c)) : returned_->snapshot();
            auto it = req.find(t);
            required = it == req.end() ? 0 : it->second;
        }
        const long long floor = max_seq(c, t);
        fc::CacheResult<std::string> r =
            cache_.fetch("max_seq", t, domains, [&] { return std::to_string(max_seq(c, t)); });
        if (r.outcome == fc::CacheOutcome::Uncached) {
            // Versions unreadable (a server in the middle of a failover).
            tally_.errors++;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        if (r.outcome != fc::CacheOutcome::Hit) {
            tally_.misses++;
            continue;
        }
        tally_.hits++;
        const long long served = std::stoll(r.value);
        if (served < required) {
            tally_.stale++;
            if (tally_.examples.size() < 5)
                tally_.examples.push_back("tenant " + t + " served seq " + std::to_string(served) +
                                          ", required " + std::to_string(required) +
                                          ", node seq " + std::to_string(floor) + ", version " +
                                          std::to_string(r.versions.at(0)));
        }
        if (served < floor)
            tally_.strict_stale++;
        if (pre_max_) {
            auto it = pre_max_->find(t);
            if (it != pre_max_->end() && r.versions.at(0) <= it->second)
                tally_.old_fresh++;
        }
    }
}

}  // namespace replica_client
