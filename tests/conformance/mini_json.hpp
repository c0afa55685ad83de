// A small JSON reader for the conformance scenario (objects, arrays, strings,
// integers, true/false/null) and a writer for the observation lines.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace conformance {

struct Json {
    enum class Type { Null, Bool, Int, String, Array, Object } type = Type::Null;
    bool b = false;
    std::int64_t i = 0;
    std::string s;
    std::vector<Json> a;
    std::vector<std::pair<std::string, Json>> o;  // in file order

    bool has(const std::string &key) const {
        for (const auto &kv : o)
            if (kv.first == key)
                return true;
        return false;
    }
    const Json &at(const std::string &key) const {
        for (const auto &kv : o)
            if (kv.first == key)
                return kv.second;
        throw std::runtime_error("scenario: missing member \"" + key + "\"");
    }
    bool truthy(const std::string &key) const { return has(key) && at(key).type == Type::Bool && at(key).b; }
};

class JsonParser {
  public:
    explicit JsonParser(const std::string &text) : t_(text) {}
    Json parse() {
        Json v = value();
        ws();
        if (p_ != t_.size())
            fail("trailing characters");
        return v;
    }

  private:
    [[noreturn]] void fail(const std::string &what) {
        throw std::runtime_error("scenario JSON: " + what + " at offset " + std::to_string(p_));
    }
    void ws() {
        while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' || t_[p_] == '\r' || t_[p_] == '\t'))
            p_++;
    }
    bool eat(char c) {
        ws();
        if (p_ < t_.size() && t_[p_] == c) {
            p_++;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c))
            fail(std::string("expected '") + c + "'");
    }
    bool word(const char *w) {
        std::string s(w);
        if (t_.compare(p_, s.size(), s) == 0) {
            p_ += s.size();
            return true;
        }
        return false;
    }
    std::string str() {
        expect('"');
        std::string out;
        while (p_ < t_.size() && t_[p_] != '"') {
            char c = t_[p_++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (p_ >= t_.size())
                fail("unterminated escape");
            char e = t_[p_++];
            switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case '"': case '\\': case '/': out += e; break;
            default: fail("unsupported escape");  // \u is not needed by the scenario
            }
        }
        if (!eat('"'))
            fail("unterminated string");
        return out;
    }
    Json value() {
        ws();
        Json v;
        if (p_ >= t_.size())
            fail("unexpected end");
        char c = t_[p_];
        if (c == '{') {
            p_++;
            v.type = Json::Type::Object;
            if (eat('}'))
                return v;
            do {
                ws();
                std::string k = str();
                expect(':');
                v.o.emplace_back(k, value());
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            p_++;
            v.type = Json::Type::Array;
            if (eat(']'))
                return v;
            do
                v.a.push_back(value());
            while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.type = Json::Type::String;
            v.s = str();
        } else if (word("true")) {
            v.type = Json::Type::Bool;
            v.b = true;
        } else if (word("false")) {
            v.type = Json::Type::Bool;
        } else if (word("null")) {
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            std::size_t end = p_ + 1;
            while (end < t_.size() && t_[end] >= '0' && t_[end] <= '9')
                end++;
            v.type = Json::Type::Int;
            v.i = std::stoll(t_.substr(p_, end - p_));
            p_ = end;
        } else {
            fail("unexpected character");
        }
        return v;
    }

    const std::string &t_;
    std::size_t p_ = 0;
};

// A JSON string literal.
inline std::string quote(const std::string &s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
            continue;
        }
        out += c;
    }
    return out + "\"";
}

}  // namespace conformance
