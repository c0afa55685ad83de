#include "listener.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace fcit {

class Listener::Receiver : public pqxx::notification_receiver {
  public:
    Receiver(pqxx::connection &c, const std::string &channel, Listener *owner)
        : pqxx::notification_receiver(c, channel), owner_(owner) {}
    void operator()(const std::string &payload, int backend_pid) override {
        Note n = decode_note(channel(), payload, backend_pid);
        if (!n.error.empty())
            owner_->invalid_.push_back(n);
        owner_->notes_.push_back(std::move(n));
    }

  private:
    Listener *owner_;
};

Listener::Listener() : conn_(connect(seconds(30))) {}

Listener::~Listener() { receivers_.clear(); }  // before the connection goes

void Listener::listen(const std::string &channel) {
    for (const auto &r : receivers_)
        if (r->channel() == channel)
            return;
    receivers_.push_back(std::make_unique<Receiver>(*conn_, channel, this));
}

bool Listener::wait_for(const std::function<bool()> &done, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        conn_->get_notifs();
        if (done())
            return true;
        auto left =
            std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
        if (left <= 0)
            return false;
        long slice = long(std::min<long long>(left, 50000));
        conn_->await_notification(slice / 1000000, slice % 1000000);
    }
}

void Listener::collect_for(milliseconds d) {
    wait_for([] { return false; }, d);
}

}  // namespace fcit
