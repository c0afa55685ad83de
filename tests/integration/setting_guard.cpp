#include "setting_guard.hpp"

#include <cstdio>
#include <stdexcept>

namespace fcit {

SystemSettingGuard::SystemSettingGuard(std::unique_ptr<pqxx::connection> &conn,
                                       std::vector<std::string> names, Apply apply)
    : conn_(conn), names_(std::move(names)), apply_(apply) {
    if (names_.empty())
        throw std::invalid_argument("SystemSettingGuard: no setting named");
}

SystemSettingGuard::~SystemSettingGuard() {
    if (!changed_)
        return;
    std::string why;
    try {
        why = restore();
    } catch (const std::exception &e) {
        why = e.what();
    }
    if (!why.empty()) {
        std::string names;
        for (const std::string &n : names_)
            names += (names.empty() ? "" : ", ") + n;
        std::fprintf(stderr, "integration_tests: could not restore %s: %s\n", names.c_str(),
                     why.c_str());
        ADD_FAILURE() << "could not restore " << names << " (ALTER SYSTEM RESET + "
                      << (apply_ == Apply::kRestart ? "restart" : "reload") << "): " << why;
    }
}

pqxx::connection &SystemSettingGuard::conn() {
    if (!conn_ || !conn_->is_open()) {
        conn_.reset();
        conn_ = connect(seconds(60));
    }
    return *conn_;
}

std::string SystemSettingGuard::apply() {
    if (apply_ == Apply::kReload) {
        exec(conn(), "SELECT pg_reload_conf()");
        return "";
    }
    std::string why = cluster_restart(conn(), "fast");
    conn_.reset();
    conn_ = connect(seconds(60));
    return why;
}

std::string SystemSettingGuard::set(
    const std::vector<std::pair<std::string, std::string>> &settings) {
    try {
        changed_ = true;
        for (const auto &[name, value] : settings)
            exec(conn(), "ALTER SYSTEM SET " + name + " = " + conn().quote(value));
        std::string why = apply();
        if (!why.empty() || apply_ == Apply::kReload)
            return why;
        for (const auto &[name, value] : settings) {
            std::string now = query_str(*conn_, "SHOW " + name);
            if (now != value)
                return name + " is " + now + " after the restart, not " + value;
        }
        return "";
    } catch (const std::exception &e) {
        return std::string("setting ") + settings.front().first + ": " + e.what();
    }
}

std::string SystemSettingGuard::set(const std::string &value) {
    return set({{names_.front(), value}});
}

std::string SystemSettingGuard::restore() {
    try {
        if (apply_ == Apply::kRestart)
            conn_.reset();  // a fresh session (the server may have restarted)
        for (const std::string &name : names_)
            exec(conn(), "ALTER SYSTEM RESET " + name);
        std::string why = apply();
        if (why.empty())
            changed_ = false;
        return why;
    } catch (const std::exception &e) {
        return e.what();
    }
}

bool SystemSettingGuard::left_behind() {
    std::string in_list;
    for (const std::string &name : names_)
        in_list += (in_list.empty() ? "" : ", ") + conn().quote(name);
    if (query_ll(conn(), "SELECT count(*) FROM pg_file_settings WHERE name IN (" + in_list +
                             ") AND sourcefile LIKE '%postgresql.auto.conf'") > 0)
        changed_ = true;
    return changed_;
}

SessionSettingGuard::SessionSettingGuard(pqxx::connection &c, std::string name,
                                         const std::string &value)
    : c_(c), name_(std::move(name)) {
    previous_ = query_str(c_, "SELECT current_setting(" + c_.quote(name_) + ")");
    exec(c_, "SET " + name_ + " = " + c_.quote(value));
}

SessionSettingGuard::~SessionSettingGuard() {
    try {
        if (c_.is_open())
            exec(c_, "SET " + name_ + " = " + c_.quote(previous_));
    } catch (const std::exception &e) {
        ADD_FAILURE() << "could not set " << name_ << " back to " << previous_ << ": " << e.what();
    }
}

}  // namespace fcit
