#include "workload.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <stdexcept>

#include <pqxx/pqxx>

#include "fraiseql_cache/client/lsn.hpp"

namespace replica_client {

void Returned::add(const std::string &tenant, long long seq) {
    std::lock_guard<std::mutex> lock(mu_);
    auto &s = seq_[tenant];
    s = std::max(s, seq);
}

SeqMap Returned::snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seq_;
}

Worker::~Worker() { stop(); }

void Worker::start() {
    thread_ = std::thread([this] {
        try {
            body();
        } catch (const std::exception &e) {
            std::lock_guard<std::mutex> lock(mu_);
            error_ = e.what();
        }
    });
}

void Worker::stop() {
    stopping_.store(true);
    if (thread_.joinable())
        thread_.join();
}

std::string Worker::error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
}

void Writer::body() {
    pqxx::connection c(conninfo_);
    std::mt19937 rng(seed_);
    std::uniform_int_distribution<std::size_t> pick(0, tenants_.size() - 1);
    while (!stopping_.load()) {
        const std::string &t = tenants_[pick(rng)];
        long long seq = -1;
        {
            pqxx::nontransaction tx(c);
            pqxx::result r = tx.exec_params(
                "UPDATE tv_contract SET seq = seq + 1, name = 'v' || (seq + 1) "
                "WHERE tenant_id = $1 RETURNING seq",
                t);
            for (const auto &row : r)
                seq = std::max(seq, row[0].as<long long>());
        }
        if (seq < 0)
            throw std::runtime_error("tenant " + t + " has no rows");
        commits_++;
        returned_.add(t, seq);
    }
}

void Marks::body() {
    pqxx::connection c(conninfo_);
    while (!stopping_.load()) {
        SeqMap snap = returned_.snapshot();
        std::string text;
        {
            pqxx::nontransaction tx(c);
            text = tx.exec("SELECT pg_current_wal_insert_lsn()::text")[0][0].as<std::string>();
        }
        auto lsn = fraiseql_cache::client::parse_lsn(text);
        if (!lsn)
            throw std::runtime_error("unreadable WAL position " + text);
        {
            std::lock_guard<std::mutex> lock(mu_);
            lsns_.push_back(*lsn);
            snaps_.push_back(std::move(snap));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

SeqMap Marks::required(std::uint64_t replayed) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::upper_bound(lsns_.begin(), lsns_.end(), replayed);
    if (it == lsns_.begin())
        return {};
    return snaps_[std::size_t(it - lsns_.begin()) - 1];
}

std::size_t Marks::count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lsns_.size();
}

}  // namespace replica_client
