// A second cluster of a test's own, started with scripts/cluster.sh (as the
// main one: the library preloaded, serving `db`) on a free loopback port in a
// directory of its own, and destroyed when the object goes.
//
// Ports: 30 from FRAISEQL_SECOND_CLUSTER_PORT (default 55450) on, the first
// that is free.
#pragma once

#include <string>

namespace fcit {

class SecondCluster {
  public:
    explicit SecondCluster(std::string db);
    ~SecondCluster();  // cluster.sh destroy, if it was started
    SecondCluster(const SecondCluster &) = delete;
    SecondCluster &operator=(const SecondCluster &) = delete;

    // initdb, start, create `db`. "" or what went wrong.
    std::string start();

    // A connection string for database `db` of this cluster.
    std::string conninfo(const std::string &db) const;
    std::string log_path() const { return dir_ + "/server.log"; }
    const std::string &db() const { return db_; }
    int port() const { return port_; }

  private:
    std::string env() const;
    // The first free port of the range, 0 if none; "" or why the range is bad.
    std::string pick_port();

    const std::string db_;
    std::string script_, dir_;
    int port_ = 0;
    bool started_ = false;
};

}  // namespace fcit
