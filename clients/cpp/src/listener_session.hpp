// One listening connection: LISTEN on the version channel and the heartbeat
// channel, wait for traffic, dispatch it, ping, reload. Any failure throws;
// the owner then discards the session and makes a new one.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "sql_queries.hpp"

namespace fraiseql_cache::client::detail {

class ListenerSession {
  public:
    // Called for each notification: heartbeat = it came on the heartbeat channel.
    using Handler = std::function<void(bool heartbeat, const std::string &payload)>;

    // Connects and LISTENs on both channels (checked with
    // pg_listening_channels(), so a LISTEN lost with the connection cannot
    // go unnoticed).
    ListenerSession(const std::string &conninfo, const std::string &channel,
                    const std::string &heartbeat_channel, Handler handler);
    ~ListenerSession();
    ListenerSession(const ListenerSession &) = delete;
    ListenerSession &operator=(const ListenerSession &) = delete;

    int backend_pid() const;

    enum class Wake { Traffic, Woken, Timeout };
    // Waits until the socket is readable, `wake_fd` is readable, or the timeout.
    Wake wait(std::chrono::milliseconds timeout, int wake_fd);
    // Delivers what has arrived to the handler; throws if the connection is gone.
    void dispatch();
    // A round trip ("SELECT 1"); throws if the connection is gone.
    void ping();
    // A round trip after which the primary has delivered the notification
    // of every version it had published when the round began (the worker
    // may publish a batch before the transaction that announces it
    // commits: fraiseql_cache.wait_for_persistence() waits for that).
    void sync();
    // current_version() of every pair, and the global domains (one query).
    LoadResult load(const std::vector<PairKey> &pairs);
    // For replica mode's own queries (identity, WAL insert position).
    pqxx::connection &connection() { return *conn_; }

  private:
    class Receiver;
    // Destroyed in reverse: the receivers (UNLISTEN) before the handler they
    // call and the connection they use.
    std::unique_ptr<pqxx::connection> conn_;
    std::unique_ptr<Handler> handler_;
    std::unique_ptr<Receiver> versions_;
    std::unique_ptr<Receiver> heartbeats_;
};

}  // namespace fraiseql_cache::client::detail
