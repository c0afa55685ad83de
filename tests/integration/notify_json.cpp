#include "notify_json.hpp"

#include <cstdint>
#include <cstdio>
#include <regex>
#include <stdexcept>

namespace fcit {

namespace {

class Parser {
  public:
    static JsonValue parse(const std::string &doc) {
        Parser p(doc);
        p.whitespace();
        JsonValue v = p.value(0);
        p.whitespace();
        if (p.i_ != doc.size())
            p.fail("trailing characters");
        return v;
    }

  private:
    explicit Parser(const std::string &s) : s_(s) {}

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

}  // namespace

JsonValue JsonParser::parse(const std::string &doc) { return Parser::parse(doc); }

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
    Announcement a{t.text, d.text, std::stoll(n.text), -1, l.text};
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

std::string object_text(const Announcement &a) {
    return "{\"tenant_id\": \"" + a.tenant + "\", \"domain\": " + json_quote(a.domain) +
           ", \"version\": " + std::to_string(a.version) +
           (a.domain_floor >= 0 ? ", \"domain_floor\": " + std::to_string(a.domain_floor) : "") +
           ", \"lsn\": \"" + a.lsn + "\"}";
}

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

}  // namespace fcit
