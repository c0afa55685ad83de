// NOTIFY: the worker announces every bumped (tenant, domain) pair, inside the
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
// the strict JSON parser below (every payload received must be valid). The
// reload-level settings (notify, notify_format, notify_channel) are changed
// with ALTER SYSTEM + pg_reload_conf(): that affects the whole cluster, so
// TearDown always puts them back (also after a failed assertion), and SetUp
// puts back any a crashed run left behind. A reload is asynchronous: a test
// goes on only once a probe write is announced in the new way (or, for
// notify = off, not at all).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace fcit {
namespace {

// ---- a small strict JSON parser (RFC 8259) ----------------------------------

struct JsonValue {
    enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
    Kind kind = Kind::kNull;
    bool boolean = false;
    std::string text;  // a number's literal, or a string's decoded UTF-8
    std::vector<JsonValue> items;
    std::vector<std::pair<std::string, JsonValue>> members;  // in document order
};

class JsonParser {
  public:
    // The whole of `doc` must be one JSON value (whitespace around allowed).
    // Throws std::runtime_error saying where and why otherwise.
    static JsonValue parse(const std::string &doc) {
        JsonParser p(doc);
        p.whitespace();
        JsonValue v = p.value(0);
        p.whitespace();
        if (p.i_ != doc.size())
            p.fail("trailing characters");
        return v;
    }

  private:
    explicit JsonParser(const std::string &s) : s_(s) {}

    [[noreturn]] void fail(const std::string &what) const {
        throw std::runtime_error("invalid JSON at byte " + std::to_string(i_) + ": " + what);
    }
    bool at_end() const { return i_ >= s_.size(); }
    char peek() const { return at_end() ? '\0' : s_[i_]; }
    void expect(char c) {
        if (peek() != c || at_end())
            fail(std::string("expected '") + c + "'");
        i_++;
    }
    void whitespace() {
        while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
            i_++;
    }

    JsonValue value(int depth) {
        if (depth > 64)
            fail("nested too deeply");
        if (at_end())
            fail("unexpected end");
        JsonValue v;
        switch (s_[i_]) {
        case '{':
            v.kind = JsonValue::Kind::kObject;
            i_++;
            whitespace();
            if (peek() == '}') {
                i_++;
                return v;
            }
            for (;;) {
                whitespace();
                std::string name = string();
                whitespace();
                expect(':');
                whitespace();
                JsonValue member = value(depth + 1);
                v.members.emplace_back(std::move(name), std::move(member));
                whitespace();
                if (peek() == ',') {
                    i_++;
                    continue;
                }
                expect('}');
                return v;
            }
        case '[':
            v.kind = JsonValue::Kind::kArray;
            i_++;
            whitespace();
            if (peek() == ']') {
                i_++;
                return v;
            }
            for (;;) {
                whitespace();
                v.items.push_back(value(depth + 1));
                whitespace();
                if (peek() == ',') {
                    i_++;
                    continue;
                }
                expect(']');
                return v;
            }
        case '"':
            v.kind = JsonValue::Kind::kString;
            v.text = string();
            return v;
        case 't':
            literal("true");
            v.kind = JsonValue::Kind::kBool;
            v.boolean = true;
            return v;
        case 'f':
            literal("false");
            v.kind = JsonValue::Kind::kBool;
            return v;
        case 'n':
            literal("null");
            return v;
        default:
            v.kind = JsonValue::Kind::kNumber;
            v.text = number();
            return v;
        }
    }

    void literal(const char *word) {
        std::string w(word);
        if (s_.compare(i_, w.size(), w) != 0)
            fail("bad literal");
        i_ += w.size();
    }

    static bool digit(char c) { return c >= '0' && c <= '9'; }

    std::string number() {
        std::size_t start = i_;
        if (peek() == '-')
            i_++;
        if (peek() == '0') {
            i_++;
        } else if (digit(peek()) && !at_end()) {
            while (!at_end() && digit(s_[i_]))
                i_++;
        } else {
            fail("bad value");
        }
        if (peek() == '.' && !at_end()) {
            i_++;
            if (at_end() || !digit(s_[i_]))
                fail("digits expected after '.'");
            while (!at_end() && digit(s_[i_]))
                i_++;
        }
        if (!at_end() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            i_++;
            if (!at_end() && (s_[i_] == '+' || s_[i_] == '-'))
                i_++;
            if (at_end() || !digit(s_[i_]))
                fail("digits expected in exponent");
            while (!at_end() && digit(s_[i_]))
                i_++;
        }
        return s_.substr(start, i_ - start);
    }

    uint32_t hex4() {
        if (i_ + 4 > s_.size())
            fail("truncated \\u escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= uint32_t(c - 'A' + 10);
            else
                fail("bad hex digit in \\u escape");
        }
        return v;
    }

    static void append_utf8(std::string &out, uint32_t cp) {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }

    void escape(std::string &out) {
        if (at_end())
            fail("truncated escape");
        char e = s_[i_++];
        switch (e) {
        case '"':
            out += '"';
            return;
        case '\\':
            out += '\\';
            return;
        case '/':
            out += '/';
            return;
        case 'b':
            out += '\b';
            return;
        case 'f':
            out += '\f';
            return;
        case 'n':
            out += '\n';
            return;
        case 'r':
            out += '\r';
            return;
        case 't':
            out += '\t';
            return;
        case 'u': {
            uint32_t cp = hex4();
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i_ + 1 >= s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u')
                    fail("high surrogate without a low one");
                i_ += 2;
                uint32_t low = hex4();
                if (low < 0xDC00 || low > 0xDFFF)
                    fail("high surrogate followed by a non-low surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail("lone low surrogate");
            }
            append_utf8(out, cp);
            return;
        }
        default:
            i_--;
            fail(std::string("bad escape \\") + e);
        }
    }

    // One UTF-8 encoded character (well-formed: no overlong form, no
    // surrogate, nothing above U+10FFFF), copied as is.
    void utf8(std::string &out) {
        unsigned char c = static_cast<unsigned char>(s_[i_]);
        std::size_t more;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            more = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            fail("invalid UTF-8 lead byte");
        }
        if (i_ + more >= s_.size())
            fail("truncated UTF-8 sequence");
        for (std::size_t k = 1; k <= more; k++) {
            unsigned char cc = static_cast<unsigned char>(s_[i_ + k]);
            if ((cc & 0xC0) != 0x80)
                fail("invalid UTF-8 continuation byte");
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            fail("invalid UTF-8 sequence");
        out.append(s_, i_, more + 1);
        i_ += more + 1;
    }

    std::string string() {
        expect('"');
        std::string out;
        for (;;) {
            if (at_end())
                fail("unterminated string");
            unsigned char c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                i_++;
                return out;
            }
            if (c < 0x20)
                fail("raw control character in a string");
            if (c == '\\') {
                i_++;
                escape(out);
            } else if (c < 0x80) {
                out += char(c);
                i_++;
            } else {
                utf8(out);
            }
        }
    }

    const std::string &s_;
    std::size_t i_ = 0;
};

// ---- payloads ----------------------------------------------------------------

struct Announcement {
    std::string tenant;
    std::string domain;
    long long version = -1;
    long long domain_floor = -1;  // -1: no such member
    std::string lsn;
};

// One JSON object exactly as the contract shapes it: the members tenant_id
// (a lowercase uuid), domain (a non-empty string) and version (a
// non-negative integer), in that order, and only on the all-tenants pair of
// a whole-domain bump domain_floor (a non-negative integer no larger than
// version), then lsn (a WAL position "X/Y" in upper-case hex); nothing else.
Announcement to_announcement(const JsonValue &v) {
    static const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
    static const std::regex integer("^(0|[1-9][0-9]{0,17})$");
    if (v.kind != JsonValue::Kind::kObject)
        throw std::runtime_error("an announcement must be a JSON object");
    static const std::regex lsn("^[0-9A-F]{1,8}/[0-9A-F]{1,8}$");
    if (v.members.size() < 4 || v.members.size() > 5 || v.members[0].first != "tenant_id" ||
        v.members[1].first != "domain" || v.members[2].first != "version" ||
        (v.members.size() == 5 && v.members[3].first != "domain_floor") ||
        v.members.back().first != "lsn")
        throw std::runtime_error(
            "an announcement has exactly the members tenant_id, domain, version, lsn, in that "
            "order (and domain_floor before lsn on the all-tenants pair of a whole-domain bump)");
    const JsonValue &l = v.members.back().second;
    if (l.kind != JsonValue::Kind::kString || !std::regex_match(l.text, lsn))
        throw std::runtime_error("lsn is not a WAL position X/Y");
    const JsonValue &t = v.members[0].second, &d = v.members[1].second,
                    &n = v.members[2].second;
    if (t.kind != JsonValue::Kind::kString || !std::regex_match(t.text, uuid))
        throw std::runtime_error("tenant_id is not a lowercase uuid string");
    if (d.kind != JsonValue::Kind::kString || d.text.empty())
        throw std::runtime_error("domain is not a non-empty string");
    if (n.kind != JsonValue::Kind::kNumber || !std::regex_match(n.text, integer))
        throw std::runtime_error("version is not a non-negative integer: " + n.text);
    Announcement a{t.text, d.text, std::stoll(n.text)};
    a.lsn = l.text;
    if (v.members.size() == 5) {
        const JsonValue &f = v.members[3].second;
        if (f.kind != JsonValue::Kind::kNumber || !std::regex_match(f.text, integer))
            throw std::runtime_error("domain_floor is not a non-negative integer: " + f.text);
        a.domain_floor = std::stoll(f.text);
        if (t.text != "00000000-0000-0000-0000-000000000000" || a.domain_floor > a.version)
            throw std::runtime_error("domain_floor on a pair other than the all-tenants one, "
                                     "or above its version");
    }
    return a;
}

// PostgreSQL's escape_json(): what the worker is expected to produce.
std::string json_quote(const std::string &s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += char(c);
            }
        }
    }
    return out + "\"";
}

// The exact text of one object-format payload.
std::string object_text(const Announcement &a) {
    return "{\"tenant_id\": \"" + a.tenant + "\", \"domain\": " + json_quote(a.domain) +
           ", \"version\": " + std::to_string(a.version) +
           (a.domain_floor >= 0 ? ", \"domain_floor\": " + std::to_string(a.domain_floor) : "") +
           ", \"lsn\": \"" + a.lsn + "\"}";
}

struct Note {
    std::string channel;
    std::string payload;
    int pid = 0;
    bool array = false;
    std::string error;  // "" when the payload is a valid announcement or array of them
    std::vector<Announcement> announcements;
};

Note decode_note(const std::string &channel, const std::string &payload, int pid) {
    Note n;
    n.channel = channel;
    n.payload = payload;
    n.pid = pid;
    try {
        JsonValue v = JsonParser::parse(payload);
        if (v.kind == JsonValue::Kind::kArray) {
            n.array = true;
            if (v.items.empty())
                throw std::runtime_error("an empty array announces nothing");
            for (const JsonValue &item : v.items)
                n.announcements.push_back(to_announcement(item));
        } else {
            n.announcements.push_back(to_announcement(v));
        }
    } catch (const std::exception &e) {
        n.error = e.what();
        n.announcements.clear();
    }
    return n;
}

// ---- a LISTENing connection --------------------------------------------------

class Listener {
  public:
    Listener() : conn_(connect(seconds(30))) {}
    ~Listener() { receivers_.clear(); }  // before the connection goes
    Listener(const Listener &) = delete;
    Listener &operator=(const Listener &) = delete;

    // LISTEN (at once: libpqxx issues it when the receiver is created).
    void listen(const std::string &channel) {
        for (const auto &r : receivers_)
            if (r->channel() == channel)
                return;
        receivers_.push_back(std::make_unique<Receiver>(*conn_, channel, this));
    }

    // Collects notifications until done() holds or `timeout` passes.
    bool wait_for(const std::function<bool()> &done, milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            conn_->get_notifs();
            if (done())
                return true;
            auto left =
                std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now())
                    .count();
            if (left <= 0)
                return false;
            long slice = long(std::min<long long>(left, 50000));
            conn_->await_notification(slice / 1000000, slice % 1000000);
        }
    }
    void collect_for(milliseconds d) {
        wait_for([] { return false; }, d);
    }

    const std::vector<Note> &notes() const { return notes_; }
    void clear() { notes_.clear(); }
    // Every payload that was not valid, since the start (never cleared).
    const std::vector<Note> &invalid() const { return invalid_; }

  private:
    class Receiver : public pqxx::notification_receiver {
      public:
        Receiver(pqxx::connection &c, const std::string &channel, Listener *owner)
            : pqxx::notification_receiver(c, channel), owner_(owner) {}
        void operator()(const std::string &payload, int backend_pid) override {
            Note n = decode_note(channel(), payload, backend_pid);
            if (!n.error.empty())
                owner_->invalid_.push_back(n);
            owner_->notes_.push_back(std::move(n));
        }

      private:
        Listener *owner_;
    };

    std::unique_ptr<pqxx::connection> conn_;
    std::vector<Note> notes_;
    std::vector<Note> invalid_;
    std::vector<std::unique_ptr<Receiver>> receivers_;
};

// What the worker is expected to do with notifications.
struct NotifyMode {
    bool on = true;
    bool array = false;
    std::string channel = "cache_invalidation";
};

const char *const kReloadSettings[] = {"fraiseql_cache.notify", "fraiseql_cache.notify_format",
                                       "fraiseql_cache.notify_channel"};

// ---- fixture -------------------------------------------------------------------

class Notify : public IntegrationTest {
  protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        if (HasFatalFailure())
            return;
        // A table of its own domain, for probes and barriers.
        shape_table_ = table_name("shape");
        create_table(shape_table_, "(id serial PRIMARY KEY, tenant_id uuid)");
        track(shape_table_);
        shape_domain_ = domain_of(shape_table_);
        listener_ = std::make_unique<Listener>();

        // Settings a crashed run left in postgresql.auto.conf.
        std::string in_list;
        for (const char *name : kReloadSettings)
            in_list += std::string(in_list.empty() ? "" : ", ") + "'" + name + "'";
        if (query_ll(*conn_, "SELECT count(*) FROM pg_file_settings WHERE name IN (" + in_list +
                                 ") AND sourcefile LIKE '%postgresql.auto.conf'") > 0) {
            settings_changed_ = true;
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

    void TearDown() override {
        if (settings_changed_) {
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

    // A tenant-scoped table (id, tenant_id, val), tracked.
    std::string make_table(const std::string &stem, const char *domain = nullptr) {
        std::string t = table_name(stem);
        create_table(t, "(id int PRIMARY KEY, tenant_id uuid, val int NOT NULL DEFAULT 0)");
        if (domain)
            track(t, domain, "tenant_id");
        else
            track(t);
        return t;
    }

    void add_rule(const std::string &source, const std::string &target, const std::string &kind) {
        if (std::find(rule_sources_.begin(), rule_sources_.end(), source) == rule_sources_.end())
            rule_sources_.push_back(source);
        pqxx::nontransaction tx(*conn_);
        tx.exec_params(
            "INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain, rule_type) "
            "VALUES ($1, $2, $3) ON CONFLICT (source_domain, target_domain) "
            "DO UPDATE SET rule_type = EXCLUDED.rule_type",
            source, target, kind);
    }

    // A committed write of the shape domain for a fresh tenant; returns it.
    std::string probe_write() {
        std::string tenant = new_uuid();
        exec(*conn_, "INSERT INTO " + shape_table_ + " (tenant_id) VALUES ('" + tenant + "')");
        return tenant;
    }

    // The first notification announcing (tenant, domain), or nullptr.
    const Note *find_note(const std::string &tenant, const std::string &domain) const {
        for (const Note &n : listener_->notes())
            for (const Announcement &a : n.announcements)
                if (a.tenant == tenant && a.domain == domain)
                    return &n;
        return nullptr;
    }

    // Barrier: a probe write and its announcement. Notifications arrive in
    // the order their (worker) transactions committed, so once the probe's
    // is here, every earlier commit's is too.
    void barrier() {
        std::string tenant = probe_write();
        bool ok = listener_->wait_for([&] { return find_note(tenant, shape_domain_) != nullptr; },
                                      seconds(10));
        ASSERT_TRUE(ok) << "the barrier write was not announced within 10 s";
    }
    // A barrier, then forgets every notification so far (setup writes, the
    // bump of a domain at registration...).
    void settle() {
        barrier();
        listener_->clear();
    }

    struct Seen {
        Announcement a;
        const Note *note;
    };
    // Every announcement of the given domains received so far.
    std::vector<Seen> announced(const std::set<std::string> &domains) const {
        std::vector<Seen> out;
        for (const Note &n : listener_->notes())
            for (const Announcement &a : n.announcements)
                if (domains.count(a.domain))
                    out.push_back(Seen{a, &n});
        return out;
    }

    // Waits until every key of `expected` has been announced, then listens a
    // little longer so that extra or duplicate announcements show.
    bool wait_for_pairs(const std::set<std::string> &domains, const std::set<PairKey> &expected,
                        milliseconds timeout = seconds(15)) {
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

    // Exactly one announcement per pair of `expected`, with its version,
    // and nothing else for these domains.
    void expect_exactly(const std::set<std::string> &domains,
                        const std::map<PairKey, long long> &expected, const std::string &step) {
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

    // Versions after commit of the given pairs, read with current_version().
    std::map<PairKey, long long> current(const std::set<PairKey> &pairs) {
        std::map<PairKey, long long> out;
        for (const PairKey &k : pairs)
            out[k] = version(*conn_, k.first, k.second);
        return out;
    }

    // ALTER SYSTEM SET + reload, then waits until the worker behaves as `mode`.
    std::string change_settings(const std::vector<std::pair<std::string, std::string>> &settings,
                                const NotifyMode &mode) {
        settings_changed_ = true;
        for (const auto &[name, value] : settings)
            exec(*conn_, "ALTER SYSTEM SET " + name + " = " + conn_->quote(value));
        exec(*conn_, "SELECT pg_reload_conf()");
        return wait_for_mode(mode);
    }

    // ALTER SYSTEM RESET + reload, then waits until the worker is back to
    // the server's own values.
    std::string restore_settings() {
        if (!conn_ || !conn_->is_open())
            conn_ = connect(seconds(30));
        for (const char *name : kReloadSettings)
            exec(*conn_, std::string("ALTER SYSTEM RESET ") + name);
        exec(*conn_, "SELECT pg_reload_conf()");
        std::string why = wait_for_mode(baseline_);
        if (why.empty())
            settings_changed_ = false;
        return why;
    }

    // Waits until (1) a new session shows the settings of `mode` (the
    // postmaster has re-read the files and signalled the worker), then (2)
    // a probe write is announced on mode.channel in mode's format (or, for
    // notify = off, is not announced within 300 ms after it is visible).
    std::string wait_for_mode(const NotifyMode &mode, seconds timeout = seconds(30)) {
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

    std::unique_ptr<Listener> listener_;
    std::string shape_table_;
    std::string shape_domain_;
    NotifyMode baseline_;
    bool settings_changed_ = false;
    std::vector<std::string> rule_sources_;
};

std::string uuid_lit(const std::string &u) { return "'" + u + "'::uuid"; }

// ---- the parser itself ------------------------------------------------------------

TEST(NotifyPayloadParser, AcceptsValidAndRejectsInvalidJson) {
    JsonValue v = JsonParser::parse(
        " {\"a\": [1, -2.5e3, true, false, null], "
        "\"b\": \"x\\\"\\\\\\/\\n\\u20ac\\ud83d\\ude00\xe2\x82\xac\"} ");
    ASSERT_EQ(v.kind, JsonValue::Kind::kObject);
    ASSERT_EQ(v.members.size(), 2u);
    EXPECT_EQ(v.members[0].second.items.size(), 5u);
    EXPECT_EQ(v.members[1].second.text, "x\"\\/\n\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x82\xac");

    for (const char *bad :
         {"", "{", "{\"a\" 1}", "{\"a\": 1,}", "[1,]", "\"unterminated", "\"raw\ttab\"",
          "\"bad \\x escape\"", "\"lone \\ud800\"", "\"lone \\udc00\"", "01", "1.", "-", "+1",
          "\"\xc3\x28\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "{} {}", "tru", "[1] x"})
        EXPECT_THROW(JsonParser::parse(bad), std::runtime_error) << "accepted: " << bad;

    Note ok = decode_note(
        "c", "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
             "\"version\": 43, \"lsn\": \"0/16B3748\"}",
        1);
    EXPECT_EQ(ok.error, "");
    ASSERT_EQ(ok.announcements.size(), 1u);
    EXPECT_EQ(ok.announcements[0].version, 43);
    EXPECT_EQ(object_text(ok.announcements[0]), ok.payload);
    for (const char *bad :
         {"{\"domain\": \"d\", \"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", "
          "\"version\": 1}",
          "{\"tenant_id\": \"not-a-uuid\", \"domain\": \"d\", \"version\": 1}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"version\": \"1\"}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"version\": 1.5}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\"}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"version\": 1}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"version\": 1, \"lsn\": \"0/16b3748\"}",
          "{\"tenant_id\": \"00000000-0000-0000-0000-00000000000a\", \"domain\": \"d\", "
          "\"lsn\": \"0/1\", \"version\": 1}",
          "[]"})
        EXPECT_NE(decode_note("c", bad, 1).error, "") << "accepted: " << bad;
}

// ---- NOTIFY -------------------------------------------------------------------------

// (a) One UPDATE over three tenants: four notifications (each tenant and the
// all-tenants pair), each with the version current_version() shows after
// the commit, each once, as one object per payload, sent by the worker.
TEST_F(Notify, OneUpdateOverThreeTenantsAnnouncesFourPairsOnce) {
    std::string t = make_table("");
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid(), c = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " SELECT g, (ARRAY[" + uuid_lit(a) + ", " + uuid_lit(b) +
                     ", " + uuid_lit(c) + "])[1 + g % 3] FROM generate_series(1, 3000) g");
    settle();
    std::set<PairKey> pairs{{a, d}, {b, d}, {c, d}, {kAllTenants, d}};
    std::map<PairKey, long long> before = current(pairs);

    {
        pqxx::work tx(*conn_);
        EXPECT_EQ(tx.exec("UPDATE " + t + " SET val = val + 1").affected_rows(), 3000u);
        tx.commit();
    }
    std::map<PairKey, long long> after = current(pairs);
    for (const PairKey &k : pairs)
        EXPECT_EQ(after[k], before[k] + 1) << "(" << k.first << ", " << d << ") bumped once";

    ASSERT_TRUE(wait_for_pairs({d}, pairs)) << "not every pair was announced within 15 s";
    expect_exactly({d}, after, "3000-row UPDATE over 3 tenants");

    const int worker = worker_pid(*conn_);
    for (const Seen &s : announced({d})) {
        EXPECT_FALSE(s.note->array) << "format object: one announcement per notification";
        EXPECT_EQ(s.note->announcements.size(), 1u);
        EXPECT_EQ(s.note->payload, object_text(s.a)) << "the payload's exact text";
        EXPECT_EQ(s.note->channel, baseline_.channel);
        EXPECT_EQ(s.note->pid, worker) << "notifications come from the worker, not the writer";
    }
    if (query_str(*conn_, "SELECT source FROM pg_settings WHERE name = "
                          "'fraiseql_cache.notify_channel'") == "default") {
        EXPECT_EQ(baseline_.channel, "cache_invalidation") << "the documented default channel";
    }
}

// (b) A domain name that needs escaping arrives as valid JSON that decodes
// to the exact name.
TEST_F(Notify, DomainNeedingEscapesArrivesAsValidJson) {
    // we"ird\dom€, unique per run
    const std::string domain = "we\"ird\\dom\xe2\x82\xac_" + random_hex(8);
    std::string t = make_table("esc", domain.c_str());
    settle();
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    std::set<PairKey> pairs{{a, domain}, {kAllTenants, domain}};
    std::map<PairKey, long long> after = current(pairs);

    ASSERT_TRUE(wait_for_pairs({domain}, pairs))
        << "the escaped domain was not announced (or not decoded to the same bytes)";
    expect_exactly({domain}, after, "INSERT into a table whose domain needs escaping");
    for (const Seen &s : announced({domain})) {
        EXPECT_EQ(s.a.domain, domain);
        EXPECT_NE(s.note->payload.find("\\\""), std::string::npos) << s.note->payload;
        EXPECT_NE(s.note->payload.find("\\\\"), std::string::npos) << s.note->payload;
    }
}

// Control characters in a domain name are escaped too (a raw one would make
// the payload invalid JSON).
TEST_F(Notify, DomainWithControlCharactersArrivesAsValidJson) {
    const std::string domain = std::string("tab\there nl\ncr\rctl\x01") + "/end_" + random_hex(8);
    std::string t = make_table("ctl", domain.c_str());
    settle();
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    std::set<PairKey> pairs{{a, domain}, {kAllTenants, domain}};
    std::map<PairKey, long long> after = current(pairs);
    ASSERT_TRUE(wait_for_pairs({domain}, pairs)) << "the domain was not announced";
    expect_exactly({domain}, after, "INSERT into a table whose domain has control characters");
}

// (c) notify_format = array: 400 tenants in one transaction are announced
// in several arrays, each payload under 8000 bytes, together exactly the
// 401 bumped pairs with their committed versions.
TEST_F(Notify, ArrayFormatSplitsPayloadsUnder8000Bytes) {
    NotifyMode array_mode = baseline_;
    array_mode.array = true;
    ASSERT_EQ(change_settings({{"fraiseql_cache.notify_format", "array"}}, array_mode), "");

    std::string t = make_table("");
    std::string d = domain_of(t);
    settle();
    exec(*conn_, "INSERT INTO " + t +
                     " SELECT g, gen_random_uuid() FROM generate_series(1, 400) g");
    std::map<PairKey, long long> after;
    {
        pqxx::nontransaction tx(*conn_);
        pqxx::result r = tx.exec_params(
            "SELECT tenant_id::text, fraiseql_cache.current_version(tenant_id, $1) FROM ("
            "  SELECT tenant_id FROM " + t + " UNION ALL SELECT $2::uuid) s",
            d, std::string(kAllTenants));
        for (const auto &row : r)
            after[{row[0].as<std::string>(), d}] = row[1].as<long long>();
    }
    ASSERT_EQ(after.size(), 401u);
    std::set<PairKey> pairs;
    for (const auto &entry : after)
        pairs.insert(entry.first);

    ASSERT_TRUE(wait_for_pairs({d}, pairs, seconds(20)))
        << "not every pair was announced within 20 s";
    expect_exactly({d}, after, "400-tenant INSERT, array format");

    std::set<const Note *> carrying;
    std::size_t bytes = 0;
    for (const Seen &s : announced({d}))
        carrying.insert(s.note);
    for (const Note &n : listener_->notes()) {
        EXPECT_LT(n.payload.size(), 8000u) << "payload over the limit";
        EXPECT_TRUE(n.array) << "format array: " << n.payload.substr(0, 200);
        EXPECT_EQ(n.channel, baseline_.channel);
        EXPECT_EQ(n.payload.front(), '[');
        EXPECT_EQ(n.payload.back(), ']');
    }
    for (const Note *n : carrying)
        bytes += n->payload.size();
    EXPECT_GE(carrying.size(), 2u) << "401 announcements (" << bytes
                                   << " bytes) cannot fit in one payload";
    // Packed, not one object per array: no payload carrying the domain is
    // less than half full, except the last of the batch.
    std::size_t small = 0;
    for (const Note *n : carrying)
        small += n->payload.size() < 4000 ? 1 : 0;
    EXPECT_LE(small, 1u) << "arrays are not packed";
}

// (d) A notify rule announces its target with the target's unchanged
// version; an invalidate rule bumps its target and announces the bump.
TEST_F(Notify, CascadeNotifyRuleAnnouncesWithoutBumping) {
    std::string src = make_table("src"), ntab = make_table("ntgt"), itab = make_table("itgt");
    std::string ds = domain_of(src), dn = domain_of(ntab), di = domain_of(itab);
    std::string a = new_uuid(), b = new_uuid();
    // (a, dn) has a version of its own; (b, dn) was never bumped.
    exec(*conn_, "INSERT INTO " + ntab + " VALUES (1, " + uuid_lit(a) + ")");
    exec(*conn_, "UPDATE " + ntab + " SET val = 1");
    exec(*conn_, "INSERT INTO " + itab + " VALUES (1, " + uuid_lit(a) + ")");
    add_rule(ds, dn, "notify");
    add_rule(ds, di, "invalidate");
    settle();

    std::set<PairKey> pairs;
    for (const std::string &tenant : {a, b, std::string(kAllTenants)})
        for (const std::string &dom : {ds, dn, di})
            pairs.insert({tenant, dom});
    std::map<PairKey, long long> before = current(pairs);

    {
        pqxx::work tx(*conn_);
        tx.exec("INSERT INTO " + src + " VALUES (1, " + uuid_lit(a) + "), (2, " + uuid_lit(b) +
                ")");
        tx.commit();
    }
    std::map<PairKey, long long> after = current(pairs);
    for (const PairKey &k : pairs) {
        long long delta = k.second == dn ? 0 : 1;
        EXPECT_EQ(after[k], before[k] + delta)
            << "(" << k.first << ", " << k.second << ")"
            << (k.second == dn ? ": a notify rule must not bump its target" : ": bumped once");
    }
    EXPECT_GT(after[PairKey(a, dn)], after[PairKey(b, dn)]) << "(a, dn) has a version of its own";

    ASSERT_TRUE(wait_for_pairs({ds, dn, di}, pairs)) << "not every pair was announced";
    expect_exactly({ds, dn, di}, after, "write to a source with a notify and an invalidate rule");

    // The rules stay put: a second write announces the same way again.
    settle();
    exec(*conn_, "UPDATE " + src + " SET val = 2 WHERE tenant_id = " + uuid_lit(a));
    std::set<PairKey> second{{a, ds}, {kAllTenants, ds}, {a, dn}, {kAllTenants, dn},
                             {a, di}, {kAllTenants, di}};
    std::map<PairKey, long long> after2 = current(second);
    EXPECT_EQ(after2[PairKey(a, dn)], after[PairKey(a, dn)]);
    EXPECT_EQ(after2[PairKey(a, di)], after[PairKey(a, di)] + 1);
    ASSERT_TRUE(wait_for_pairs({ds, dn, di}, second)) << "not every pair was announced";
    expect_exactly({ds, dn, di}, after2, "second write, one tenant");
}

// A target of a cascade rule that is also changed directly in the same
// transaction is announced once, with its bump.
TEST_F(Notify, NotifyTargetAlsoWrittenIsAnnouncedOnceWithItsBump) {
    std::string src = make_table("src"), ntab = make_table("ntgt");
    std::string ds = domain_of(src), dn = domain_of(ntab);
    std::string a = new_uuid();
    add_rule(ds, dn, "notify");
    settle();
    std::set<PairKey> pairs{{a, ds}, {kAllTenants, ds}, {a, dn}, {kAllTenants, dn}};
    std::map<PairKey, long long> before = current(pairs);
    {
        pqxx::work tx(*conn_);
        tx.exec("INSERT INTO " + src + " VALUES (1, " + uuid_lit(a) + ")");
        tx.exec("INSERT INTO " + ntab + " VALUES (1, " + uuid_lit(a) + ")");
        tx.commit();
    }
    std::map<PairKey, long long> after = current(pairs);
    for (const PairKey &k : pairs)
        EXPECT_EQ(after[k], before[k] + 1) << "(" << k.first << ", " << k.second << ")";
    ASSERT_TRUE(wait_for_pairs({ds, dn}, pairs));
    expect_exactly({ds, dn}, after, "source and notify target written together");
}

// Cascades into a global domain: every announced pair carries the version
// current_version() gives that pair, and domain_version agrees with
// current_version() for every row of the domain.
// A global target has one version, the all-tenants pair's: a cascade from
// (t, source) bumps and announces (all, target), never a (t, target) row
// that direct writes to the global table would not move again.
TEST_F(Notify, CascadeIntoGlobalDomainAnnouncesItsVersion) {
    std::string src = make_table("src");
    std::string gn = table_name("gnotify"), gi = table_name("ginval");
    create_table(gn, "(id int PRIMARY KEY, val int)");
    create_table(gi, "(id int PRIMARY KEY, val int)");
    track(gn, nullptr, nullptr);
    track(gi, nullptr, nullptr);
    std::string ds = domain_of(src), dgn = domain_of(gn), dgi = domain_of(gi);
    exec(*conn_, "INSERT INTO " + gn + " VALUES (1, 0)");
    exec(*conn_, "INSERT INTO " + gi + " VALUES (1, 0)");
    add_rule(ds, dgn, "notify");
    add_rule(ds, dgi, "invalidate");
    settle();
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + src + " VALUES (1, " + uuid_lit(a) + ")");

    std::set<PairKey> all_pairs{{kAllTenants, dgn}, {kAllTenants, dgi}};
    ASSERT_TRUE(wait_for_pairs({dgn, dgi}, all_pairs));
    for (const Seen &s : announced({dgn, dgi}))
        EXPECT_EQ(s.a.version, version(*conn_, s.a.tenant, s.a.domain))
            << "announced " << object_text(s.a) << " but current_version() of that pair differs";

    // A direct write to the global table afterwards: every domain_version
    // row of the domain must follow current_version().
    exec(*conn_, "UPDATE " + gi + " SET val = val + 1");
    for (const auto &[key, v] : persisted_versions(*conn_)) {
        if (key.second == dgi) {
            EXPECT_EQ(v, version(*conn_, key.first, key.second))
                << "domain_version row (" << key.first << ", " << key.second
                << ") disagrees with current_version()";
        }
    }
}

// The bumps of DDL on a tracked table (ALTER TABLE bumps its domain) and of
// the registration name the table's real domain, also when it needs escaping.
// The registration and the DDL hook read the domain back from
// pg_trigger.tgargs: a name with a backslash or non-ASCII bytes must come
// back exactly, or ALTER TABLE would bump a phantom domain.
TEST_F(Notify, DomainNeedingEscapesIsRegisteredAndBumpedByDdlUnderItsOwnName) {
    const std::string prefix = "caf\xe2\x82\xac\\";
    const std::string domain = prefix + random_hex(8);  // caf€\<hex>
    std::string t = make_table("ddl", domain.c_str());
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    barrier();
    EXPECT_EQ(query_str(*conn_, "SELECT domain FROM fraiseql_cache.tracked_tables WHERE "
                                "table_name = " + conn_->quote(t)),
              domain);
    auto expect_no_phantom = [&](const std::string &step) {
        for (const Note &n : listener_->notes())
            for (const Announcement &a2 : n.announcements)
                if (a2.domain != domain && a2.domain.rfind("caf", 0) == 0 &&
                    a2.domain.find(domain.substr(domain.size() - 8)) != std::string::npos)
                    ADD_FAILURE() << step << ": announced a domain that is not the table's: "
                                  << object_text(a2);
    };
    expect_no_phantom("setup_table_invalidation");
    listener_->clear();

    std::set<PairKey> pairs{{a, domain}, {kAllTenants, domain}};
    std::map<PairKey, long long> before = current(pairs);
    exec(*conn_, "ALTER TABLE " + t + " ADD COLUMN extra int DEFAULT 5");
    std::map<PairKey, long long> after = current(pairs);
    for (const PairKey &k : pairs)
        EXPECT_EQ(after[k], before[k] + 1)
            << "ALTER TABLE bumps (" << k.first << ", " << k.second << ")";
    wait_for_pairs({domain}, pairs, seconds(5));
    expect_exactly({domain}, after, "ALTER TABLE");
    expect_no_phantom("ALTER TABLE");
}

// (e) notify = off: a commit bumps, and nothing is announced.
TEST_F(Notify, NotifyOffSilencesAnnouncements) {
    std::string t = make_table("");
    std::string d = domain_of(t);
    std::string a = new_uuid();
    NotifyMode off = baseline_;
    off.on = false;
    ASSERT_EQ(change_settings({{"fraiseql_cache.notify", "off"}}, off), "");
    long long notifies_before = query_ll(*conn_, "SELECT notifies FROM fraiseql_cache.stats()");
    long long v0 = version(*conn_, a, d);
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    long long v1 = version(*conn_, a, d);
    EXPECT_EQ(v1, v0 + 1) << "notify = off still bumps";
    listener_->collect_for(milliseconds(700));
    for (const Note &n : listener_->notes())
        ADD_FAILURE() << "notification with notify = off: " << n.payload;
    EXPECT_EQ(query_ll(*conn_, "SELECT notifies FROM fraiseql_cache.stats()"), notifies_before)
        << "stats().notifies counted notifications with notify = off";

    // Back on: announced again, with the version after commit.
    ASSERT_EQ(restore_settings(), "");
    settle();
    exec(*conn_, "UPDATE " + t + " SET val = 1");
    std::set<PairKey> pairs{{a, d}, {kAllTenants, d}};
    std::map<PairKey, long long> after = current(pairs);
    EXPECT_EQ(after[PairKey(a, d)], v1 + 1);
    ASSERT_TRUE(wait_for_pairs({d}, pairs));
    expect_exactly({d}, after, "after notify is back on");
}

// notify_channel: announcements follow the channel the setting names.
TEST_F(Notify, ChannelFollowsTheSetting) {
    std::string t = make_table("");
    std::string d = domain_of(t);
    NotifyMode moved = baseline_;
    moved.channel = "fc_it_channel_" + random_hex(8);
    ASSERT_EQ(change_settings({{"fraiseql_cache.notify_channel", moved.channel}}, moved), "");
    settle();
    std::string a = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    std::set<PairKey> pairs{{a, d}, {kAllTenants, d}};
    std::map<PairKey, long long> after = current(pairs);
    ASSERT_TRUE(wait_for_pairs({d}, pairs));
    expect_exactly({d}, after, "announced on the new channel");
    for (const Seen &s : announced({d}))
        EXPECT_EQ(s.note->channel, moved.channel);
}

// (f) A rolled-back transaction, or one ended by an error, announces
// nothing (and bumps nothing).
TEST_F(Notify, RolledBackTransactionAnnouncesNothing) {
    std::string t = make_table("");
    std::string d = domain_of(t);
    std::string a = new_uuid(), b = new_uuid(), c = new_uuid();
    exec(*conn_, "INSERT INTO " + t + " VALUES (1, " + uuid_lit(a) + ")");
    settle();
    std::set<PairKey> pairs{{a, d}, {b, d}, {c, d}, {kAllTenants, d}};
    std::map<PairKey, long long> before = current(pairs);

    {
        pqxx::work tx(*conn_);
        tx.exec("UPDATE " + t + " SET val = val + 1");
        tx.exec("INSERT INTO " + t + " VALUES (2, " + uuid_lit(b) + ")");
        tx.exec("SELECT fraiseql_cache.invalidate(" + uuid_lit(c) + ", " + conn_->quote(d) + ")");
        tx.abort();
    }
    {
        pqxx::work tx(*conn_);
        tx.exec("DELETE FROM " + t);
        EXPECT_THROW(tx.exec("SELECT 1 / 0"), pqxx::sql_error);
        // libpqxx aborts the transaction when it goes out of scope.
    }
    // Barrier: once a later commit is announced, anything from the rolled
    // back ones would have been announced before it.
    std::string probe = probe_write();
    bool announced_probe = listener_->wait_for(
        [&] { return find_note(probe, shape_domain_) != nullptr; }, seconds(10));
    ASSERT_TRUE(announced_probe) << "the barrier write was not announced";
    listener_->collect_for(milliseconds(200));
    for (const Seen &s : announced({d}))
        ADD_FAILURE() << "announced after a rollback: " << object_text(s.a);
    EXPECT_EQ(current(pairs), before) << "a rolled-back transaction bumped";
}

}  // namespace
}  // namespace fcit
