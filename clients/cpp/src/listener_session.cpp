#include "listener_session.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fraiseql_cache::client::detail {

class ListenerSession::Receiver : public pqxx::notification_receiver {
  public:
    Receiver(pqxx::connection &c, const std::string &channel, bool heartbeat, const Handler &h)
        : pqxx::notification_receiver(c, channel), heartbeat_(heartbeat), handler_(h) {}
    void operator()(const std::string &payload, int) override { handler_(heartbeat_, payload); }

  private:
    bool heartbeat_;
    const Handler &handler_;
};

ListenerSession::ListenerSession(const std::string &conninfo, const std::string &channel,
                                 const std::string &heartbeat_channel, Handler handler)
    : conn_(open_connection(conninfo)), handler_(std::make_unique<Handler>(std::move(handler))) {
    versions_ = std::make_unique<Receiver>(*conn_, channel, false, *handler_);
    if (heartbeat_channel != channel)
        heartbeats_ = std::make_unique<Receiver>(*conn_, heartbeat_channel, true, *handler_);
    // libpqxx issues LISTEN when a receiver registers but ignores a broken
    // connection there: check that the channels are really listened to.
    long long n = 0;
    {
        pqxx::nontransaction tx(*conn_);
        pqxx::result r = tx.exec_params(
            "SELECT count(*) FROM pg_listening_channels() AS c WHERE c IN ($1, $2)", channel,
            heartbeat_channel);
        n = r[0][0].as<long long>();
    }
    const long long want = heartbeat_channel == channel ? 1 : 2;
    if (n != want)
        throw pqxx::broken_connection("LISTEN did not take effect on channel \"" + channel + "\"");
}

ListenerSession::~ListenerSession() = default;

int ListenerSession::backend_pid() const { return conn_ ? conn_->backendpid() : 0; }

ListenerSession::Wake ListenerSession::wait(std::chrono::milliseconds timeout, int wake_fd) {
    pollfd fds[2];
    fds[0].fd = conn_->sock();
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    fds[1].fd = wake_fd;
    fds[1].events = POLLIN;
    fds[1].revents = 0;
    if (fds[0].fd < 0)
        throw pqxx::broken_connection("the listener connection has no socket");
    int ms = int(std::max<long long>(0, std::min<long long>(timeout.count(), 60000)));
    int rc = ::poll(fds, wake_fd >= 0 ? 2 : 1, ms);
    if (rc < 0) {
        if (errno == EINTR)
            return Wake::Timeout;
        throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    if (rc == 0)
        return Wake::Timeout;
    if (fds[0].revents != 0)
        return Wake::Traffic;
    return Wake::Woken;
}

void ListenerSession::dispatch() {
    conn_->get_notifs();
    if (!conn_->is_open())
        throw pqxx::broken_connection("the listener connection was closed");
}

void ListenerSession::ping() {
    {
        pqxx::nontransaction tx(*conn_);
        tx.exec("SELECT 1");
    }
    dispatch();
}

void ListenerSession::sync() {
    {
        pqxx::nontransaction tx(*conn_);
        tx.exec("SELECT fraiseql_cache.wait_for_persistence(1000)");
    }
    dispatch();
}

LoadResult ListenerSession::load(const std::vector<PairKey> &pairs) {
    LoadResult r = query_load(*conn_, pairs);
    return r;
}

}  // namespace fraiseql_cache::client::detail
