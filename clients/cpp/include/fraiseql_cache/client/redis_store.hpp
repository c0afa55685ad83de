// A CacheStore in Redis (hiredis), shared by every process that points at
// the same server and key prefix. Entries are stored with encode_entry() and
// expire after `ttl` (versions make them stale long before; the TTL only
// bounds memory). Thread-safe: one connection, calls serialised; a failed
// call drops the connection and the next call reconnects.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "fraiseql_cache/client/cache_store.hpp"

struct redisContext;

namespace fraiseql_cache::client {

struct RedisOptions {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::chrono::milliseconds connect_timeout{500};
    std::chrono::milliseconds command_timeout{500};
    std::chrono::seconds ttl{3600};  // 0: no expiry
    std::string key_prefix = "fraiseql_cache:";
};

class RedisStore : public CacheStore {
  public:
    explicit RedisStore(RedisOptions options);
    ~RedisStore() override;
    RedisStore(const RedisStore &) = delete;
    RedisStore &operator=(const RedisStore &) = delete;

    std::optional<StoredEntry> get(const std::string &key) override;
    void put(const std::string &key, const StoredEntry &entry) override;
    void erase(const std::string &key) override;

    // Entries under the key prefix that could not be decoded (counted as misses).
    std::uint64_t decode_errors() const;

  private:
    redisContext *connection();  // connected context or throws StoreError
    void drop();

    RedisOptions options_;
    mutable std::mutex mu_;
    redisContext *ctx_ = nullptr;
    std::uint64_t decode_errors_ = 0;
};

}  // namespace fraiseql_cache::client
