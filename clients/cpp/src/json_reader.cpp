#include "json_reader.hpp"

#include <cstring>
#include <limits>

namespace fraiseql_cache::client::detail {

namespace {
constexpr int kMaxDepth = 32;

void append_utf8(std::string *out, unsigned cp) {
    if (cp < 0x80) {
        *out += char(cp);
    } else if (cp < 0x800) {
        *out += char(0xC0 | (cp >> 6));
        *out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *out += char(0xE0 | (cp >> 12));
        *out += char(0x80 | ((cp >> 6) & 0x3F));
        *out += char(0x80 | (cp & 0x3F));
    } else {
        *out += char(0xF0 | (cp >> 18));
        *out += char(0x80 | ((cp >> 12) & 0x3F));
        *out += char(0x80 | ((cp >> 6) & 0x3F));
        *out += char(0x80 | (cp & 0x3F));
    }
}
}  // namespace

void JsonReader::skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
        i_++;
}

bool JsonReader::consume(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
        i_++;
        return true;
    }
    return false;
}

bool JsonReader::read_hex4(unsigned *out) {
    if (i_ + 4 > s_.size())
        return false;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s_[i_++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= unsigned(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= unsigned(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= unsigned(c - 'A' + 10);
        else
            return false;
    }
    *out = v;
    return true;
}

bool JsonReader::read_string(std::string *out) {
    skip_ws();
    if (i_ >= s_.size() || s_[i_] != '"')
        return false;
    i_++;
    out->clear();
    while (i_ < s_.size()) {
        char c = s_[i_++];
        if (c == '"')
            return true;
        if (static_cast<unsigned char>(c) < 0x20)
            return false;  // control characters must be escaped
        if (c != '\\') {
            *out += c;
            continue;
        }
        if (i_ >= s_.size())
            return false;
        char e = s_[i_++];
        switch (e) {
        case '"': *out += '"'; break;
        case '\\': *out += '\\'; break;
        case '/': *out += '/'; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
            unsigned cp = 0;
            if (!read_hex4(&cp))
                return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo = 0;
                if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u')
                    return false;
                i_ += 2;
                if (!read_hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return false;
            }
            append_utf8(out, cp);
            break;
        }
        default:
            return false;
        }
    }
    return false;  // unterminated
}

bool JsonReader::read_int(std::int64_t *out) {
    skip_ws();
    std::size_t start = i_;
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9')
        return false;
    if (s_[i_] == '0' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9')
        return false;  // no leading zeros in JSON
    std::int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        int d = s_[i_] - '0';
        if (v > (std::numeric_limits<std::int64_t>::max() - d) / 10)
            return false;
        v = v * 10 + d;
        i_++;
    }
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E'))
        return false;
    if (i_ == start)
        return false;
    *out = v;
    return true;
}

bool JsonReader::skip_number() {
    skip_ws();
    std::size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-')
        i_++;
    std::size_t digits = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
        i_++;
    if (i_ == digits)
        return false;
    if (i_ < s_.size() && s_[i_] == '.') {
        i_++;
        std::size_t frac = i_;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
            i_++;
        if (i_ == frac)
            return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
        i_++;
        if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'))
            i_++;
        std::size_t exp = i_;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
            i_++;
        if (i_ == exp)
            return false;
    }
    return i_ > start;
}

bool JsonReader::skip_literal(const char *word) {
    std::size_t n = std::strlen(word);
    if (s_.compare(i_, n, word) != 0)
        return false;
    i_ += n;
    return true;
}

bool JsonReader::skip_value(int depth) {
    if (depth > kMaxDepth)
        return false;
    char c = peek();
    if (c == '"') {
        std::string ignored;
        return read_string(&ignored);
    }
    if (c == '{') {
        consume('{');
        if (consume('}'))
            return true;
        do {
            std::string key;
            if (!read_string(&key) || !consume(':') || !skip_value(depth + 1))
                return false;
        } while (consume(','));
        return consume('}');
    }
    if (c == '[') {
        consume('[');
        if (consume(']'))
            return true;
        do {
            if (!skip_value(depth + 1))
                return false;
        } while (consume(','));
        return consume(']');
    }
    if (c == 't')
        return skip_literal("true");
    if (c == 'f')
        return skip_literal("false");
    if (c == 'n')
        return skip_literal("null");
    return skip_number();
}

}  // namespace fraiseql_cache::client::detail
