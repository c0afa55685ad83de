#include "fraiseql_cache/client/redis_store.hpp"

#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "fraiseql_cache/client/entry_codec.hpp"

namespace fraiseql_cache::client {

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
    timeval tv;
    tv.tv_sec = long(ms.count() / 1000);
    tv.tv_usec = long((ms.count() % 1000) * 1000);
    return tv;
}

// Owns one reply.
struct Reply {
    redisReply *r;
    explicit Reply(void *p) : r(static_cast<redisReply *>(p)) {}
    ~Reply() {
        if (r)
            freeReplyObject(r);
    }
    Reply(const Reply &) = delete;
    Reply &operator=(const Reply &) = delete;
};

}  // namespace

RedisStore::RedisStore(RedisOptions options) : options_(std::move(options)) {}

RedisStore::~RedisStore() { drop(); }

void RedisStore::drop() {
    if (ctx_) {
        redisFree(ctx_);
        ctx_ = nullptr;
    }
}

redisContext *RedisStore::connection() {
    if (ctx_)
        return ctx_;
    redisContext *c = redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                              to_timeval(options_.connect_timeout));
    if (c == nullptr)
        throw StoreError("redis: cannot allocate a connection");
    if (c->err) {
        std::string why = c->errstr;
        redisFree(c);
        throw StoreError("redis: cannot connect to " + options_.host + ":" +
                         std::to_string(options_.port) + ": " + why);
    }
    if (redisSetTimeout(c, to_timeval(options_.command_timeout)) != REDIS_OK) {
        redisFree(c);
        throw StoreError("redis: cannot set the command timeout");
    }
    ctx_ = c;
    return ctx_;
}

std::optional<StoredEntry> RedisStore::get(const std::string &key) {
    const std::string k = options_.key_prefix + key;
    std::lock_guard<std::mutex> lock(mu_);
    redisContext *c = connection();
    Reply reply(redisCommand(c, "GET %b", k.data(), k.size()));
    if (reply.r == nullptr) {
        std::string why = c->errstr;
        drop();
        throw StoreError("redis: GET failed: " + why);
    }
    if (reply.r->type == REDIS_REPLY_NIL)
        return std::nullopt;
    if (reply.r->type != REDIS_REPLY_STRING)
        throw StoreError("redis: GET answered " +
                         (reply.r->type == REDIS_REPLY_ERROR
                              ? std::string(reply.r->str, reply.r->len)
                              : "type " + std::to_string(reply.r->type)));
    auto entry = decode_entry(std::string(reply.r->str, reply.r->len));
    if (!entry)
        decode_errors_++;
    return entry;
}

void RedisStore::put(const std::string &key, const StoredEntry &entry) {
    const std::string k = options_.key_prefix + key;
    const std::string v = encode_entry(entry);
    std::lock_guard<std::mutex> lock(mu_);
    redisContext *c = connection();
    void *raw = options_.ttl.count() > 0
                    ? redisCommand(c, "SET %b %b EX %lld", k.data(), k.size(), v.data(), v.size(),
                                   static_cast<long long>(options_.ttl.count()))
                    : redisCommand(c, "SET %b %b", k.data(), k.size(), v.data(), v.size());
    Reply reply(raw);
    if (reply.r == nullptr) {
        std::string why = c->errstr;
        drop();
        throw StoreError("redis: SET failed: " + why);
    }
    if (reply.r->type == REDIS_REPLY_ERROR)
        throw StoreError("redis: SET answered " + std::string(reply.r->str, reply.r->len));
}

void RedisStore::erase(const std::string &key) {
    const std::string k = options_.key_prefix + key;
    std::lock_guard<std::mutex> lock(mu_);
    redisContext *c = connection();
    Reply reply(redisCommand(c, "DEL %b", k.data(), k.size()));
    if (reply.r == nullptr) {
        std::string why = c->errstr;
        drop();
        throw StoreError("redis: DEL failed: " + why);
    }
    if (reply.r->type == REDIS_REPLY_ERROR)
        throw StoreError("redis: DEL answered " + std::string(reply.r->str, reply.r->len));
}

std::uint64_t RedisStore::decode_errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return decode_errors_;
}

}  // namespace fraiseql_cache::client
