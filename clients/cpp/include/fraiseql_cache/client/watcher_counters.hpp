// Counters of a VersionWatcher, since it was created.
#pragma once

#include <cstdint>

namespace fraiseql_cache::client {

struct WatcherCounters {
    std::uint64_t notifications = 0;     // payloads received on the channel
    std::uint64_t payload_errors = 0;    // payloads that could not be parsed (each forces a reload)
    std::uint64_t versions_raised = 0;   // held versions that went up (any source)
    std::uint64_t heartbeats = 0;        // payloads received on the heartbeat channel
    std::uint64_t pings = 0;             // liveness probes sent
    std::uint64_t connects = 0;          // listener sessions established (LISTEN done)
    std::uint64_t disconnects = 0;       // listener sessions lost or failed to establish
    std::uint64_t loads = 0;             // full reloads of the held versions (one query each)
    std::uint64_t local_lookups = 0;     // versions() answered from memory (no round trip)
    std::uint64_t first_reads = 0;       // versions() that read pairs not held yet over SQL
    std::uint64_t sql_fallbacks = 0;     // versions() answered over SQL while unhealthy
    std::uint64_t refreshes = 0;         // refresh() calls
    std::uint64_t held_pairs = 0;        // pairs held now
    // Replica mode and failover.
    std::uint64_t gated = 0;             // heard versions held until the replica replayed them
    std::uint64_t gated_pending = 0;     // of those, waiting now
    std::uint64_t replay_polls = 0;      // replay positions read on the replica (one query each)
    std::uint64_t lookup_waits = 0;      // versions() that waited for a replay poll
    std::uint64_t lookup_wait_timeouts = 0;  // of those, read over SQL after replay_wait_timeout
    std::uint64_t failovers = 0;         // reconnects to another server: local map dropped
};

}  // namespace fraiseql_cache::client
