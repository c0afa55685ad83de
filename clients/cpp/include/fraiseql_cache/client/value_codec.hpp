// How VersionedCache<V> turns values into store bytes and back. Specialise
// ValueCodec<V> (or pass a codec type) for your value types:
//
//   template <> struct fraiseql_cache::client::ValueCodec<MyRow> {
//       static std::string encode(const MyRow &v);
//       static std::optional<MyRow> decode(const std::string &bytes);  // nullopt: a miss
//   };
#pragma once

#include <optional>
#include <string>

namespace fraiseql_cache::client {

template <class V>
struct ValueCodec;  // no default: a value type needs an explicit codec

template <>
struct ValueCodec<std::string> {
    static std::string encode(const std::string &v) { return v; }
    static std::optional<std::string> decode(const std::string &bytes) { return bytes; }
};

}  // namespace fraiseql_cache::client
