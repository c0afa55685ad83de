// A small JSON reader, enough for the worker's notification payloads: it
// walks objects and arrays, decodes strings (all escapes, surrogate pairs to
// UTF-8) and reads integers; any other value is validated and skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fraiseql_cache::client::detail {

class JsonReader {
  public:
    explicit JsonReader(const std::string &text) : s_(text) {}

    void skip_ws();
    bool at_end() { skip_ws(); return i_ >= s_.size(); }
    // Consumes `c` (after whitespace) when it is next.
    bool consume(char c);
    char peek() { skip_ws(); return i_ < s_.size() ? s_[i_] : '\0'; }

    bool read_string(std::string *out);
    // A non-negative integer that fits in int64 (no fraction, no exponent).
    bool read_int(std::int64_t *out);
    // Any value: validated, discarded.
    bool skip_value(int depth = 0);

  private:
    bool read_hex4(unsigned *out);
    bool skip_number();
    bool skip_literal(const char *word);

    const std::string &s_;
    std::size_t i_ = 0;
};

}  // namespace fraiseql_cache::client::detail
