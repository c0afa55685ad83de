// The JSON checker for NOTIFY payloads: a small strict JSON parser (RFC
// 8259) and the payload shapes of the contract:
//
//   {"tenant_id": "<uuid>", "domain": "<JSON-escaped name>", "version": N,
//    ["domain_floor": N,] "lsn": "X/Y"}
//
// one object per notification, or (notify_format = array) a JSON array of them.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace fcit {

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
    static JsonValue parse(const std::string &doc);
};

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
// Throws std::runtime_error otherwise.
Announcement to_announcement(const JsonValue &v);

// PostgreSQL's escape_json(): what the worker is expected to produce.
std::string json_quote(const std::string &s);

// The exact text of one object-format payload.
std::string object_text(const Announcement &a);

// One notification received, decoded.
struct Note {
    std::string channel;
    std::string payload;
    int pid = 0;
    bool array = false;
    std::string error;  // "" when the payload is a valid announcement or array of them
    std::vector<Announcement> announcements;
};

Note decode_note(const std::string &channel, const std::string &payload, int pid);

}  // namespace fcit
