#include "second_cluster.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "harness.hpp"
#include "server_log.hpp"

namespace fcit {

namespace {
constexpr int kDefaultFirstPort = 55450;
constexpr int kPorts = 30;

bool port_free(int port, const std::string &dir) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
    ::close(fd);
    struct stat st;
    std::string sock = dir + "/.s.PGSQL." + std::to_string(port);
    return ok && ::stat(sock.c_str(), &st) != 0;
}
}  // namespace

SecondCluster::SecondCluster(std::string db)
    : db_(std::move(db)), dir_("/tmp/" + db_ + "_" + std::to_string(::getpid())) {}

SecondCluster::~SecondCluster() {
    if (!started_)
        return;
    std::string out;
    if (run_command(env() + " timeout 120 " + shell_quote(script_) + " destroy", &out) != 0)
        std::fprintf(stderr, "integration_tests: destroying %s failed: %s\n", dir_.c_str(),
                     out.c_str());
}

std::string SecondCluster::pick_port() {
    int first = kDefaultFirstPort;
    if (const char *s = std::getenv("FRAISEQL_SECOND_CLUSTER_PORT"); s && *s) {
        char *end = nullptr;
        long v = std::strtol(s, &end, 10);
        if (*end != '\0' || v < 1024 || v > 65535 - kPorts)
            return "FRAISEQL_SECOND_CLUSTER_PORT=" + std::string(s) +
                   " is not a port number from 1024 to " + std::to_string(65535 - kPorts);
        first = int(v);
    }
    for (int p = first; p < first + kPorts; p++) {
        if (port_free(p, dir_)) {
            port_ = p;
            return "";
        }
    }
    return "no free port in " + std::to_string(first) + "-" + std::to_string(first + kPorts - 1);
}

std::string SecondCluster::start() {
    script_ = cluster_script();
    if (script_.empty())
        return "scripts/cluster.sh not found";
    if (std::string why = pick_port(); !why.empty())
        return why;
    std::string out;
    started_ = true;
    int rc = run_command(env() + " timeout 120 " + shell_quote(script_) + " start", &out);
    if (rc != 0)
        return "cluster.sh start failed (" + std::to_string(rc) + "): " + out +
               read_file_from(log_path(), 0);
    return "";
}

std::string SecondCluster::conninfo(const std::string &db) const {
    return "host=" + dir_ + " port=" + std::to_string(port_) + " user=postgres dbname=" + db +
           " connect_timeout=10 application_name=fraiseql_second_cluster "
           "options='-c statement_timeout=30000 -c client_min_messages=warning'";
}

std::string SecondCluster::env() const {
    return "FRAISEQL_CLUSTER_DIR=" + shell_quote(dir_) + " FRAISEQL_PORT=" +
           std::to_string(port_) + " FRAISEQL_DB=" + shell_quote(db_) + " FRAISEQL_EXTRA_CONF=";
}

}  // namespace fcit
