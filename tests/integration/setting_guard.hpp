// Setting guards: a setting changed for one test and put back when the
// guard goes, also when the test failed half-way.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace fcit {

// Cluster settings changed with ALTER SYSTEM, put back with ALTER SYSTEM
// RESET. Applied with a fast restart (postmaster-level settings: the
// fixture's connection `conn` is re-established after each) or with
// pg_reload_conf() (reload-level settings: the caller waits until the
// processes concerned have applied them).
class SystemSettingGuard {
  public:
    enum class Apply { kRestart, kReload };

    SystemSettingGuard(std::unique_ptr<pqxx::connection> &conn, std::vector<std::string> names,
                       Apply apply);
    // One postmaster-level setting.
    SystemSettingGuard(std::unique_ptr<pqxx::connection> &conn, std::string name)
        : SystemSettingGuard(conn, std::vector<std::string>{std::move(name)}, Apply::kRestart) {}
    // Puts the settings back if they were changed; a failure to do so is
    // a test failure (and printed, since the cluster is left changed).
    ~SystemSettingGuard();
    SystemSettingGuard(const SystemSettingGuard &) = delete;
    SystemSettingGuard &operator=(const SystemSettingGuard &) = delete;

    // ALTER SYSTEM SET <name> = <value> for each, then applied; with a
    // restart, SHOW must then give the new values. "" or what went wrong.
    std::string set(const std::vector<std::pair<std::string, std::string>> &settings);
    // The same for the guard's first (usually only) setting.
    std::string set(const std::string &value);

    // ALTER SYSTEM RESET of every setting of the guard, then applied.
    // "" or what went wrong; after "" the guard has nothing to put back.
    std::string restore();

    // True when postgresql.auto.conf holds one of the settings (a run that
    // crashed left it there): the guard then has it to put back.
    bool left_behind();
    bool changed() const { return changed_; }

  private:
    std::string apply();
    pqxx::connection &conn();

    std::unique_ptr<pqxx::connection> &conn_;
    const std::vector<std::string> names_;
    const Apply apply_;
    bool changed_ = false;
};

// SET <name> = <value> on one session; the value it had is SET again when
// the guard goes (if the session is still there).
class SessionSettingGuard {
  public:
    SessionSettingGuard(pqxx::connection &c, std::string name, const std::string &value);
    ~SessionSettingGuard();
    SessionSettingGuard(const SessionSettingGuard &) = delete;
    SessionSettingGuard &operator=(const SessionSettingGuard &) = delete;

  private:
    pqxx::connection &c_;
    const std::string name_;
    std::string previous_;
};

}  // namespace fcit
