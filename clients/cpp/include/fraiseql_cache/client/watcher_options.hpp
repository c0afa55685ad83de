// Settings of a VersionWatcher.
#pragma once

#include <chrono>
#include <string>

namespace fraiseql_cache::client {

struct WatcherOptions {
    // libpq connection string of the served database; "" reads PGHOST,
    // PGPORT, PGUSER, PGDATABASE... from the environment. Adding
    // "keepalives_idle=5 tcp_user_timeout=10000" makes a dead network path
    // show up in seconds instead of minutes.
    std::string conninfo;
    // fraiseql_cache.notify_channel of the server.
    std::string channel = "cache_invalidation";
    // The worker's heartbeat channel; "" means channel + "_heartbeat". A
    // heartbeat counts as liveness; the watcher does not need one.
    std::string heartbeat_channel;

    // Reconnect backoff: first delay, doubling up to the cap (with jitter).
    std::chrono::milliseconds reconnect_initial{100};
    std::chrono::milliseconds reconnect_max{5000};
    // With nothing heard for this long, the listener sends "SELECT 1".
    std::chrono::milliseconds ping_interval{2000};
    // With nothing heard and no ping answered for this long the watcher is
    // unhealthy: lookups go to SQL until the connection proves alive again.
    std::chrono::milliseconds liveness_timeout{6000};
    // Every so often re-read every held version (a safety net for what
    // notifications cannot carry: a notification skipped by a server whose
    // queue was full, a domain that became global). 0 turns it off.
    std::chrono::milliseconds resync_interval{60000};

    // Replica mode: the libpq connection string of the hot standby the
    // application reads its data from ("" = off). The watcher still LISTENs
    // on `conninfo` (the primary; a multi-host string with
    // target_session_attrs=read-write follows a failover), but a version
    // heard enters the local map only once this replica has replayed past
    // the notification's "lsn"; every SQL read (reloads, first reads,
    // fallbacks, refresh()) goes to the replica. See version_watcher.hpp.
    std::string replica_conninfo;
    // While heard versions wait for the replica, its replay position is read
    // at most this often (one query for all of them).
    std::chrono::milliseconds replay_poll_interval{2};
    // A lookup of a pair with a version waiting for the replica waits for
    // the next replay poll, at most this long (then it reads the versions
    // on the replica over SQL).
    std::chrono::milliseconds replay_wait_timeout{100};
    // Exact lookups (replica mode only): every versions() answered locally
    // first waits for a round begun after the call: a round trip on the
    // listen connection (fraiseql_cache.wait_for_persistence(): the primary
    // then has delivered the notification of every version it had
    // published before) and the replica's replay position. A hit then never
    // serves data older than a commit that had returned and that the
    // replica had replayed before the lookup. Costs about two round trips of
    // latency per lookup (one round serves every lookup waiting for it).
    // Off: a lookup waits only while a version of its pairs waits for the
    // replica, and otherwise can lag by the notification delay.
    bool exact_lookups = false;
};

}  // namespace fraiseql_cache::client
