#include "writers.hpp"

#include <stdexcept>
#include <utility>

namespace fcit {

void WriterThreads::Turn::committed() const {
    owner_.commits_++;
    (*owner_.per_thread_[std::size_t(thread)])++;
}

WriterThreads::WriterThreads(Options options, TurnFunction turn)
    : options_(std::move(options)), turn_(std::move(turn)) {
    if (options_.threads < 1)
        throw std::invalid_argument("WriterThreads: threads must be at least 1");
    if (options_.deadline == Clock::time_point{})
        throw std::invalid_argument("WriterThreads: no deadline");
    for (int k = 0; k < options_.threads; k++)
        per_thread_.push_back(std::make_unique<std::atomic<long long>>(0));
    for (int k = 0; k < options_.threads; k++)
        threads_.emplace_back([this, k] { run(k); });
}

WriterThreads::~WriterThreads() { stop(); }

void WriterThreads::stop() {
    stop_ = true;
    wait();
}

void WriterThreads::wait() {
    for (auto &th : threads_)
        if (th.joinable())
            th.join();
}

std::string WriterThreads::first_failure() const {
    std::lock_guard<std::mutex> g(mu_);
    return first_failure_;
}

std::string WriterThreads::failure_log() const {
    std::lock_guard<std::mutex> g(mu_);
    return failure_log_;
}

void WriterThreads::failed(int k, const std::exception &e) {
    std::lock_guard<std::mutex> g(mu_);
    if (failures_++ == 0)
        first_failure_ = std::string(sqlstate_of(e)) + " " + e.what();
    if (failure_log_.size() < 2000)
        failure_log_ += "writer " + std::to_string(k) + ": " + e.what() + "\n";
}

void WriterThreads::run(int k) {
    std::unique_ptr<pqxx::connection> c;
    int conn_epoch = 0;
    for (long long i = 0; !stop_.load() && Clock::now() < options_.deadline &&
                          (options_.iterations < 0 || i < options_.iterations);
         i++) {
        bool setting_up = false;
        try {
            if (!c || !c->is_open()) {
                if (c && !options_.reconnect)
                    return;  // the connection is gone
                c.reset();
                conn_epoch = epoch_.load();
                if (options_.reconnect)
                    c = connect(std::chrono::duration_cast<milliseconds>(options_.deadline -
                                                                         Clock::now()),
                                options_.retry_interval);
                else
                    c = connect();
                setting_up = true;
                if (options_.on_connect)
                    options_.on_connect(k, *c);
                setting_up = false;
            }
            Turn t(k, i, *c, conn_epoch, *this);
            turn_(t);
        } catch (const std::exception &e) {
            const bool lost = !c || !c->is_open() || is_connection_loss(e);
            if (options_.reconnect && lost) {
                connection_losses_++;
                c.reset();
                continue;
            }
            failed(k, e);
            if (setting_up)
                c.reset();  // not set up: never used for a turn
            if (!c || !c->is_open()) {
                if (!options_.reconnect)
                    return;
                c.reset();
            }
            if (options_.pause_after_failure.count() > 0)
                std::this_thread::sleep_for(options_.pause_after_failure);
        }
    }
}

}  // namespace fcit
