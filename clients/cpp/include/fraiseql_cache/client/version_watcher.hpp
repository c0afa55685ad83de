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
