// The fixture of the NOTIFY tests (suite Notify, notify_*_test.cpp).
//
// The worker announces every bumped (tenant, domain) pair, inside the
// transaction that persists the batch, on fraiseql_cache.notify_channel
// (default cache_invalidation), with the committed version:
//
//   {"tenant_id": "<uuid>", "domain": "<JSON-escaped name>", "version": N}
//
// one notification per pair, or (notify_format = array) packed in JSON arrays
// each under PostgreSQL's 8000-byte payload limit; notify = off silences it;
// a cascade rule of type 'notify' announces its target's current version
// without bumping it; a rolled-back transaction announces nothing.
//
// Every test listens on a connection of its own and parses each payload with
// the strict JSON checker of notify_json.hpp (every payload received must be
// valid). The reload-level settings (notify, notify_format, notify_channel)
// are changed with ALTER SYSTEM + pg_reload_conf(): that affects the whole
// cluster, so TearDown always puts them back (also after a failed
// assertion), and SetUp puts back any a crashed run left behind. A reload is
// asynchronous: a test goes on only once a probe write is announced in the
// new way (or, for notify = off, not at all).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "listener.hpp"
#include "notify_json.hpp"
#include "setting_guard.hpp"

namespace fcit {

// What the worker is expected to do with notifications.
struct NotifyMode {
    bool on = true;
    bool array = false;
    std::string channel = "cache_invalidation";
};

class Notify : public IntegrationTest {
  protected:
    void SetUp() override;
    void TearDown() override;

    // A tenant-scoped table (id, tenant_id, val), tracked.
    std::string make_table(const std::string &stem, const char *domain = nullptr);
    void add_rule(const std::string &source, const std::string &target, const std::string &kind);

    // A committed write of the shape domain for a fresh tenant; returns it.
    std::string probe_write();
    // The first notification announcing (tenant, domain), or nullptr.
    const Note *find_note(const std::string &tenant, const std::string &domain) const;

    // Barrier: a probe write and its announcement. Notifications arrive in
    // the order their (worker) transactions committed, so once the probe's
    // is here, every earlier commit's is too.
    void barrier();
    // A barrier, then forgets every notification so far (setup writes, the
    // bump of a domain at registration...).
    void settle();

    struct Seen {
        Announcement a;
        const Note *note;
    };
    // Every announcement of the given domains received so far.
    std::vector<Seen> announced(const std::set<std::string> &domains) const;

    // Waits until every key of `expected` has been announced, then listens a
    // little longer so that extra or duplicate announcements show.
    bool wait_for_pairs(const std::set<std::string> &domains, const std::set<PairKey> &expected,
                        milliseconds timeout = seconds(15));

    // Exactly one announcement per pair of `expected`, with its version,
    // and nothing else for these domains.
    void expect_exactly(const std::set<std::string> &domains,
                        const std::map<PairKey, long long> &expected, const std::string &step);

    // Versions after commit of the given pairs, read with current_version().
    std::map<PairKey, long long> current(const std::set<PairKey> &pairs);

    // ALTER SYSTEM SET + reload, then waits until the worker behaves as `mode`.
    std::string change_settings(const std::vector<std::pair<std::string, std::string>> &settings,
                                const NotifyMode &mode);
    // ALTER SYSTEM RESET + reload, then waits until the worker is back to
    // the server's own values.
    std::string restore_settings();
    // Waits until (1) a new session shows the settings of `mode` (the
    // postmaster has re-read the files and signalled the worker), then (2)
    // a probe write is announced on mode.channel in mode's format (or, for
    // notify = off, is not announced within 300 ms after it is visible).
    std::string wait_for_mode(const NotifyMode &mode, seconds timeout = seconds(30));

    std::unique_ptr<Listener> listener_;
    std::string shape_table_;
    std::string shape_domain_;
    NotifyMode baseline_;
    std::unique_ptr<SystemSettingGuard> settings_;
    std::vector<std::string> rule_sources_;
};

}  // namespace fcit
