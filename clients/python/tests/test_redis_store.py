"""VersionedCache over Redis: shared by two watchers (two "processes"),
invalidated by writes, a failing store is a miss."""

import time

import redis

from conftest import new_tenant
from fraiseql_cache import (AsyncRedisStore, AsyncVersionWatcher, AsyncVersionedCache,
                            RedisStore, VersionedCache, VersionWatcher)


def test_two_watchers_share_redis(schema, admin, redis_url):
    d = schema.contract
    t = new_tenant()
    admin.execute(f"INSERT INTO tv_{d} (id, tenant_id, val) VALUES (1, %s, 7)", (t,))
    client = redis.Redis.from_url(redis_url)
    store = RedisStore(client, prefix=f"{schema.p}:")
    w1, w2 = VersionWatcher(""), VersionWatcher("")
    calls = []

    def load():
        calls.append(1)
        return admin.execute(f"SELECT val FROM tv_{d} WHERE tenant_id = %s", (t,)).fetchone()[0]

    try:
        assert w1.wait_until_healthy(10) and w2.wait_until_healthy(10)
        a, b = VersionedCache(w1, store, "vals"), VersionedCache(w2, store, "vals")
        assert a.lookup("k", t, [d], load) == (7, False)
        assert b.lookup("k", t, [d], load) == (7, True)  # computed by the other one
        assert len(calls) == 1
        assert client.pttl(f"{schema.p}:vals:k") > 0  # the TTL bounds memory
        admin.execute(f"UPDATE tv_{d} SET val = 8")
        w1.refresh(t, [d])
        v = schema.version(t, d)
        deadline = time.monotonic() + 10
        while w2.versions(t, [d]) != [v] and time.monotonic() < deadline:
            time.sleep(0.005)
        assert a.lookup("k", t, [d], load) == (8, False)
        assert b.lookup("k", t, [d], load) == (8, True)
        assert a.counters["refused_stale"] == 1
        # Same key, other tenant or other domains: never the other entry.
        t2 = new_tenant()
        assert b.lookup("k", t2, [d], lambda: "other") == ("other", False)
    finally:
        w1.stop()
        w2.stop()
        client.close()


def test_failing_store_is_a_miss(schema, redis_url):
    dead = RedisStore(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5))
    w = VersionWatcher("")
    try:
        cache = VersionedCache(w, dead, "x")
        t = new_tenant()
        assert cache.lookup("k", t, [schema.contract], lambda: 1) == (1, False)
        assert cache.lookup("k", t, [schema.contract], lambda: 2) == (2, False)
        assert cache.counters["store_errors"] == 4 and cache.counters["hits"] == 0
    finally:
        w.stop()


async def test_async_cache_over_redis(schema, admin, redis_url):
    import redis.asyncio as aredis

    d = schema.contract
    t = new_tenant()
    client = aredis.Redis.from_url(redis_url)
    async with AsyncVersionWatcher("") as w:
        assert await w.wait_until_healthy(10)
        cache = AsyncVersionedCache(w, AsyncRedisStore(client, prefix=f"{schema.p}:"), "a")

        async def compute():
            return {"n": 1}

        assert await cache.lookup("k", t, [d], compute) == ({"n": 1}, False)
        assert await cache.lookup("k", t, [d], compute) == ({"n": 1}, True)
        admin.execute(f"INSERT INTO tv_{d} (id, tenant_id) VALUES (1, %s)", (t,))
        await w.refresh(t, [d])
        assert await cache.lookup("k", t, [d], lambda: {"n": 2}) == ({"n": 2}, False)
    await client.connection_pool.disconnect()
