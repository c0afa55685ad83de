// WAL positions ("X/Y" as PostgreSQL prints a pg_lsn), for replica mode: a
// notification's "lsn" is compared with a standby's pg_last_wal_replay_lsn().
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace fraiseql_cache::client {

// A WAL position; 0 (PostgreSQL's InvalidXLogRecPtr) means "none".
using Lsn = std::uint64_t;

// "X/Y" (one to eight hex digits each side) as a number, or nullopt.
std::optional<Lsn> parse_lsn(const std::string &text);
// The "X/Y" text PostgreSQL prints.
std::string format_lsn(Lsn lsn);

}  // namespace fraiseql_cache::client
