#include "replica_link.hpp"

#include <stdexcept>

namespace fraiseql_cache::client::detail {

namespace {
Lsn lsn_field(const pqxx::field &f) {
    if (f.is_null())
        return 0;
    auto lsn = parse_lsn(f.as<std::string>());
    if (!lsn)
        throw std::runtime_error("unreadable WAL position \"" + f.as<std::string>() + "\"");
    return *lsn;
}
}  // namespace

std::string ServerIdentity::describe() const {
    std::string s = "system " + (system_id.empty() ? std::string("(unknown)") : system_id);
    if (in_recovery)
        return s + ", in recovery";
    return s + ", timeline " + std::to_string(timeline);
}

std::uint32_t timeline_of_walfile(const std::string &walfile) {
    if (walfile.size() < 8)
        throw std::runtime_error("unexpected WAL file name \"" + walfile + "\"");
    return std::uint32_t(std::stoul(walfile.substr(0, 8), nullptr, 16));
}

ServerIdentity query_identity(pqxx::connection &c) {
    ServerIdentity id;
    {
        pqxx::nontransaction tx(c);
        pqxx::result r = tx.exec(
            "SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery() "
            "THEN pg_walfile_name(pg_current_wal_insert_lsn()) END");
        id.in_recovery = r[0][0].as<bool>();
        if (!id.in_recovery)
            id.timeline = timeline_of_walfile(r[0][1].as<std::string>());
    }
    try {
        pqxx::nontransaction tx(c);
        pqxx::result r = tx.exec("SELECT system_identifier::text FROM pg_control_system()");
        id.system_id = r[0][0].as<std::string>();
    } catch (const pqxx::insufficient_privilege &) {
        // A role without EXECUTE on pg_control_system(): the timeline alone.
    }
    return id;
}

Lsn query_insert_lsn(pqxx::connection &c) {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec("SELECT pg_current_wal_insert_lsn()::text");
    return lsn_field(r[0][0]);
}

ReplicaLink::ReplicaLink(const std::string &conninfo) : conn_(open_connection(conninfo)) {}

ReplicaLink::Position ReplicaLink::position() {
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec(
        "SELECT pg_is_in_recovery(), (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
        "ELSE pg_current_wal_insert_lsn() END)::text");
    Position p;
    p.in_recovery = r[0][0].as<bool>();
    p.lsn = lsn_field(r[0][1]);
    return p;
}

}  // namespace fraiseql_cache::client::detail
