// VersionWatcher: the current versions of a process, kept locally.
//
// One dedicated connection per process LISTENs on the worker's channel. On
// every (re)connect it first runs LISTEN, then reloads every version it holds
// with one query, then applies notifications; it always keeps the maximum of
// what it holds and hears (versions are absolute and monotonic, so this is
// idempotent and independent of order). A notification is a hint, not a log:
// whatever was said while the listener was down is recovered by the reload.
//
// versions() answers from memory: zero round trips per cache check. A pair
// asked for the first time is read over SQL once and held from then on.
// While the listener is down (or silent past liveness_timeout) versions()
// answers over SQL instead, so a cache check never relies on a map that may
// have missed a notification.
//
// A local answer can lag the server by the notification delay (typically
// well under a millisecond to a few milliseconds). An application that wants
// to read its own writes calls refresh(tenant, domains) after its COMMIT
// returns (with fraiseql_cache.wait_for_bump = on the bump is already visible
// then); the fresh versions are merged into the map and served from then on.
//
// Replica mode (WatcherOptions::replica_conninfo set), for applications that
// read their data from a hot standby: the watcher LISTENs on the primary, but
// a heard version enters the map only once the replica has replayed past
// the notification's "lsn" (until then the pair keeps its previous version,
// under which the replica's older data is still right). While versions wait,
// the listener reads the replica's pg_last_wal_replay_lsn() at most every
// replay_poll_interval (one query for all of them); a lookup of a pair with a
// version waiting waits for the next such poll. A notification without
// "lsn" waits for the primary's insert position read just after it was
// heard. Every SQL read goes to the replica: reloads (after the replica has
// replayed the primary's insert position read after LISTEN, so nothing
// announced before LISTEN is missed), first reads, fallbacks and refresh().
// The replica must be a standby of the listened primary (same system
// identifier) or that primary itself.
//
// Failover: on every connect the watcher reads which server it listens to
// (system identifier, timeline). Another one than before (a promoted
// standby: point `conninfo` at every candidate with a libpq multi-host
// string and target_session_attrs=read-write), or a replica that left
// recovery, drops the whole map and reloads the pairs it held from the new
// server: entries tagged with the old primary's versions then miss.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fraiseql_cache/client/types.hpp"
#include "fraiseql_cache/client/version_source.hpp"
#include "fraiseql_cache/client/watcher_counters.hpp"
#include "fraiseql_cache/client/watcher_options.hpp"

namespace fraiseql_cache::client {

class VersionWatcher : public VersionSource {
  public:
    // Starts the listener thread; returns at once (see wait_until_healthy).
    explicit VersionWatcher(WatcherOptions options = {});
    // Stops and joins the listener thread.
    ~VersionWatcher() override;
    VersionWatcher(const VersionWatcher &) = delete;
    VersionWatcher &operator=(const VersionWatcher &) = delete;

    // Step 1 of the cache protocol, locally when possible. Throws
    // std::invalid_argument for a malformed tenant id, and the SQL error
    // when it has to ask the server and cannot.
    std::vector<Version> versions(const std::string &tenant,
                                  const std::vector<std::string> &domains) override;

    // Reads the current versions over SQL, merges them into the map and
    // returns them: read-your-writes after the caller's own COMMIT.
    std::vector<Version> refresh(const std::string &tenant, const std::vector<std::string> &domains);

    // Connected, LISTENing, loaded, and heard from within liveness_timeout.
    bool healthy() const;
    bool wait_until_healthy(std::chrono::milliseconds timeout) const;

    WatcherCounters counters() const;
    // The listening session's backend pid (0 while disconnected).
    int listener_pid() const;
    // The last connection or query error of the listener ("" if none).
    std::string last_error() const;

    // Called for every held version that goes up (from the listener thread
    // for notifications and reloads, from the calling thread for refresh()
    // and first reads), outside any lock. Exceptions it throws are swallowed.
    // Set it before the first lookup; calls may overlap.
    using UpdateCallback = std::function<void(const VersionUpdate &)>;
    void on_update(UpdateCallback callback);

    // Stops the listener (also done by the destructor). Lookups then go to SQL.
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace fraiseql_cache::client
