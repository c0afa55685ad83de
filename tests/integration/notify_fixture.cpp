#include "notify_fixture.hpp"

#include <algorithm>

namespace fcit {

namespace {
const std::vector<std::string> kReloadSettings = {
    "fraiseql_cache.notify", "fraiseql_cache.notify_format", "fraiseql_cache.notify_channel"};
}  // namespace

void Notify::SetUp() {
    IntegrationTest::SetUp();
    if (HasFatalFailure())
        return;
    // A table of its own domain, for probes and barriers.
    shape_table_ = table_name("shape");
    create_table(shape_table_, "(id serial PRIMARY KEY, tenant_id uuid)");
    track(shape_table_);
    shape_domain_ = domain_of(shape_table_);
    listener_ = std::make_unique<Listener>();
    settings_ = std::make_unique<SystemSettingGuard>(conn_, kReloadSettings,
                                                     SystemSettingGuard::Apply::kReload);

    // Settings a crashed run left in postgresql.auto.conf.
    if (settings_->left_behind()) {
        std::string why = restore_settings();
        ASSERT_EQ(why, "") << "could not restore settings left by an earlier run";
    }
    // The server's own values (postgresql.conf, else the defaults).
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec(
        "SELECT current_setting('fraiseql_cache.notify') = 'on', "
        "current_setting('fraiseql_cache.notify_format') = 'array', "
        "current_setting('fraiseql_cache.notify_channel')");
    tx.commit();
    baseline_.on = r[0][0].as<bool>();
    baseline_.array = r[0][1].as<bool>();
    baseline_.channel = r[0][2].as<std::string>();
    ASSERT_TRUE(baseline_.on) << "this suite expects fraiseql_cache.notify = on by default";
    listener_->listen(baseline_.channel);
    settle();
}

void Notify::TearDown() {
    if (settings_ && settings_->changed()) {
        std::string why;
        try {
            why = restore_settings();
        } catch (const std::exception &e) {
            why = e.what();
        }
        if (!why.empty())
            ADD_FAILURE() << "restoring the NOTIFY settings failed: " << why;
    }
    if (listener_) {
        for (const Note &n : listener_->invalid())
            ADD_FAILURE() << "invalid payload on channel " << n.channel << ": " << n.error
                          << "\n  payload: " << n.payload;
    }
    listener_.reset();
    if (conn_ && conn_->is_open()) {
        for (const std::string &source : rule_sources_) {
            try {
                exec(*conn_, "DELETE FROM fraiseql_cache.cascade_rules WHERE source_domain = " +
                                 conn_->quote(source));
            } catch (const std::exception &e) {
                ADD_FAILURE() << "removing cascade rules failed: " << e.what();
            }
        }
    }
    IntegrationTest::TearDown();
}

std::string Notify::make_table(const std::string &stem, const char *domain) {
    std::string t = create_tenant_table(stem, Tenant::kNullable);
    if (domain)
        track(t, domain, "tenant_id");
    else
        track(t);
    return t;
}

void Notify::add_rule(const std::string &source, const std::string &target,
                      const std::string &kind) {
    if (std::find(rule_sources_.begin(), rule_sources_.end(), source) == rule_sources_.end())
        rule_sources_.push_back(source);
    pqxx::nontransaction tx(*conn_);
    tx.exec_params(
        "INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain, rule_type) "
        "VALUES ($1, $2, $3) ON CONFLICT (source_domain, target_domain) "
        "DO UPDATE SET rule_type = EXCLUDED.rule_type",
        source, target, kind);
}

std::string Notify::probe_write() {
    std::string tenant = new_uuid();
    exec(*conn_, "INSERT INTO " + shape_table_ + " (tenant_id) VALUES ('" + tenant + "')");
    return tenant;
}

const Note *Notify::find_note(const std::string &tenant, const std::string &domain) const {
    for (const Note &n : listener_->notes())
        for (const Announcement &a : n.announcements)
            if (a.tenant == tenant && a.domain == domain)
                return &n;
    return nullptr;
}

void Notify::barrier() {
    std::string tenant = probe_write();
    bool ok = listener_->wait_for([&] { return find_note(tenant, shape_domain_) != nullptr; },
                                  seconds(10));
    ASSERT_TRUE(ok) << "the barrier write was not announced within 10 s";
}

void Notify::settle() {
    barrier();
    listener_->clear();
}

std::vector<Notify::Seen> Notify::announced(const std::set<std::string> &domains) const {
    std::vector<Seen> out;
    for (const Note &n : listener_->notes())
        for (const Announcement &a : n.announcements)
            if (domains.count(a.domain))
                out.push_back(Seen{a, &n});
    return out;
}

bool Notify::wait_for_pairs(const std::set<std::string> &domains,
                            const std::set<PairKey> &expected, milliseconds timeout) {
    bool ok = listener_->wait_for(
        [&] {
            std::set<PairKey> got;
            for (const Seen &s : announced(domains))
                got.insert({s.a.tenant, s.a.domain});
            return std::includes(got.begin(), got.end(), expected.begin(), expected.end());
        },
        timeout);
    listener_->collect_for(milliseconds(300));
    return ok;
}

void Notify::expect_exactly(const std::set<std::string> &domains,
                            const std::map<PairKey, long long> &expected,
                            const std::string &step) {
    std::map<PairKey, int> count;
    for (const Seen &s : announced(domains)) {
        PairKey key{s.a.tenant, s.a.domain};
        count[key]++;
        auto it = expected.find(key);
        if (it == expected.end()) {
            ADD_FAILURE() << step << ": unexpected announcement " << object_text(s.a);
            continue;
        }
        EXPECT_EQ(s.a.version, it->second)
            << step << ": (" << key.first << ", " << key.second
            << ") announced with another version than current_version() after commit";
    }
    for (const auto &[key, n] : count)
        EXPECT_LE(n, 1) << step << ": (" << key.first << ", " << key.second << ") announced "
                        << n << " times";
    for (const auto &[key, v] : expected)
        EXPECT_EQ(count.count(key), 1u)
            << step << ": (" << key.first << ", " << key.second << ") version " << v
            << " was not announced";
}

std::map<PairKey, long long> Notify::current(const std::set<PairKey> &pairs) {
    std::map<PairKey, long long> out;
    for (const PairKey &k : pairs)
        out[k] = version(*conn_, k.first, k.second);
    return out;
}

std::string Notify::change_settings(
    const std::vector<std::pair<std::string, std::string>> &settings, const NotifyMode &mode) {
    std::string why = settings_->set(settings);
    if (!why.empty())
        return why;
    return wait_for_mode(mode);
}

std::string Notify::restore_settings() {
    std::string why = settings_->restore();
    if (!why.empty())
        return why;
    return wait_for_mode(baseline_);
}

std::string Notify::wait_for_mode(const NotifyMode &mode, seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string seen;
    bool loaded = wait_until(
        [&] {
            auto c = connect(seconds(10));
            pqxx::nontransaction tx(*c);
            pqxx::result r = tx.exec(
                "SELECT current_setting('fraiseql_cache.notify'), "
                "current_setting('fraiseql_cache.notify_format'), "
                "current_setting('fraiseql_cache.notify_channel')");
            std::string on = r[0][0].as<std::string>(), format = r[0][1].as<std::string>(),
                        channel = r[0][2].as<std::string>();
            seen = "notify=" + on + " notify_format=" + format + " notify_channel=" + channel;
            return on == (mode.on ? "on" : "off") &&
                   format == (mode.array ? "array" : "object") && channel == mode.channel;
        },
        timeout, milliseconds(50));
    if (!loaded)
        return "the reload did not take effect; a new session shows " + seen;
    listener_->listen(mode.channel);

    std::string last = "no probe";
    while (Clock::now() < deadline) {
        std::string tenant = probe_write();
        Note note;
        bool found = listener_->wait_for(
            [&] {
                const Note *n = find_note(tenant, shape_domain_);
                if (n)
                    note = *n;
                return n != nullptr;
            },
            mode.on ? seconds(5) : milliseconds(300));
        listener_->clear();
        if (!mode.on) {
            if (!found)
                return "";
            last = "a probe write was still announced: " + note.payload;
            continue;
        }
        if (found && note.channel == mode.channel && note.array == mode.array)
            return "";
        last = found ? "a probe write was announced on " + note.channel + " as " +
                           (note.array ? "an array" : "an object")
                     : "a probe write was not announced within 5 s";
    }
    return "the worker did not apply the reload within " + std::to_string(timeout.count()) +
           " s: " + last;
}

}  // namespace fcit
