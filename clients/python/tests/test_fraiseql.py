"""PostgresCache (FraiseQL 1.x drop-in) with FraiseQL's call sequence."""

import asyncio

import pytest
from psycopg_pool import AsyncConnectionPool

from conftest import new_tenant
from fraiseql_cache import ALL_TENANTS, PostgresCache


@pytest.fixture
async def pool():
    p = AsyncConnectionPool("", min_size=1, max_size=4, open=False)
    await p.open(wait=True)
    yield p
    await p.close()


async def until(pred, timeout=10.0):
    for _ in range(int(timeout / 0.005)):
        if await pred():
            return True
        await asyncio.sleep(0.005)
    return await pred()


async def cached(cache, key, tenant, domains, compute, ttl=300):
    """FraiseQL's protocol: versions first, then the entry, else compute and set."""
    versions = await cache.get_domain_versions(tenant, domains)
    result, stored = await cache.get_with_metadata(key)
    if result is not None and stored == versions:
        return result, True
    result = await compute()
    await cache.set(key, result, ttl, versions=versions)
    return result, False


async def test_fraiseql_call_sequence(pool, schema, admin):
    table = f"{schema.p}_entries"
    cache = PostgresCache(pool, table_name=table)
    try:
        # Detected at construction, before any await.
        assert cache.has_domain_versioning and cache.extension_version == "1.0"
        c, i, g = schema.contract, schema.item, schema.currency
        for _ in range(2):  # every start: idempotent
            await cache.setup_table_trigger(f"tv_{c}")
            await cache.setup_table_trigger(f"public.tv_{i}", domain_name=i)
            await cache.setup_table_trigger(f"tb_{g}")  # no tenant_id column: global
        await cache.register_cascade_rule(c, i, "notify")
        await cache.register_cascade_rule(c, i)  # the upsert path
        assert admin.execute("SELECT rule_type FROM fraiseql_cache.cascade_rules "
                             "WHERE source_domain = %s", (c,)).fetchone()[0] == "invalidate"

        ta, tb = new_tenant(), new_tenant()
        admin.execute(f"INSERT INTO tv_{c} (id, tenant_id) VALUES (1, %s), (2, %s), (3, %s)",
                      (ta, ta, tb))
        admin.execute(f"INSERT INTO tv_{i} VALUES (1, %s, 's1'), (2, %s, 's2')", (ta, tb))

        async def contracts(t):
            async with pool.connection() as conn:
                cur = await conn.execute(f"SELECT id, val FROM tv_{c} WHERE tenant_id = %s "
                                         "ORDER BY id", (t,))
                return [list(r) for r in await cur.fetchall()]

        # Every requested domain is answered, never {}; None is the all-tenants id.
        v = await cache.get_domain_versions(ta, [c, i, g, f"{schema.p}_never"])
        assert set(v) == {c, i, g, f"{schema.p}_never"}
        assert v[c] == schema.version(ta, c) and v[f"{schema.p}_never"] == schema.version(ta, "x")
        assert await cache.get_domain_versions(None, [c]) == {c: schema.version(ALL_TENANTS, c)}
        with pytest.raises(ValueError, match="not a uuid"):
            await cache.get_domain_versions("global", [c])

        r, hit = await cached(cache, f"{ta}:contracts", ta, [c], lambda: contracts(ta))
        assert not hit and r == [[1, 0], [2, 0]]
        r, hit = await cached(cache, f"{ta}:contracts", ta, [c], lambda: contracts(ta))
        assert hit
        assert await cache.get(f"{ta}:contracts") == [[1, 0], [2, 0]]
        rb, hit = await cached(cache, f"{tb}:contracts", tb, [c], lambda: contracts(tb))
        assert not hit and rb == [[3, 0]]

        # A write from another connection: the next read is a miss with fresh data.
        admin.execute(f"UPDATE tv_{c} SET val = 5 WHERE id = 1")
        fresh = schema.version(ta, c)
        assert await until(lambda: _eq(cache.get_domain_versions(ta, [c]), {c: fresh}))
        _, stored = await cache.get_with_metadata(f"{ta}:contracts")
        assert stored != await cache.get_domain_versions(ta, [c])
        assert await cache.get(f"{ta}:contracts") is None  # get() never serves it
        r, hit = await cached(cache, f"{ta}:contracts", ta, [c], lambda: contracts(ta))
        assert not hit and r == [[1, 5], [2, 0]]
        _, hit = await cached(cache, f"{tb}:contracts", tb, [c], lambda: contracts(tb))
        assert hit  # the other tenant's entry survived

        # Cascade: the contract write bumped the tenant's items.
        assert (await cache.get_domain_versions(ta, [i]))[i] == schema.version(ta, i) >= 1

        # A global domain: one version for every tenant and for None.
        admin.execute(f"INSERT INTO tb_{g} VALUES ('EUR', 1)")
        gv = schema.version(ALL_TENANTS, g)
        assert gv >= 1
        assert await until(lambda: _eq(cache.get_domain_versions(ta, [g]), {g: gv}))
        assert await cache.get_domain_versions(tb, [g]) == {g: gv}
        assert await cache.get_domain_versions(None, [g]) == {g: gv}

        # Zero round trips once held (and trusted: a first heartbeat may still
        # make the watcher reload the pairs it read before it).
        async def answered_locally():
            before = cache.watcher.counters["local_lookups"]
            await cache.get_domain_versions(ta, [c, i, g])
            return cache.watcher.counters["local_lookups"] == before + 1
        assert await until(answered_locally)
        local_before = cache.watcher.counters["local_lookups"]
        sql_before = cache.watcher.reader.round_trips
        for _ in range(20):
            await cache.get_domain_versions(ta, [c, i, g])
        assert cache.watcher.counters["local_lookups"] == local_before + 20
        assert cache.watcher.reader.round_trips == sql_before

        # The rest of the surface.
        assert await cache.exists(f"{ta}:contracts") and await cache.ping()
        await cache.set("plain", {"x": 1}, 1)
        assert await cache.get("plain") == {"x": 1}
        assert await cache.delete("plain") and not await cache.exists("plain")
        await cache.set("gone", 1, -1)
        assert await cache.cleanup_expired() == 1
        assert await cache.delete_pattern(f"{tb}:*") == 1
        assert (await cache.get_stats())["total_entries"] == 1
        assert await cache.clear_cascade_rules(c) == 1
    finally:
        await cache.close()
        admin.execute(f"DROP TABLE IF EXISTS {table}")


async def _eq(awaitable, expected):
    return await awaitable == expected


async def test_late_version_read_cannot_tag_old_data(pool, schema, admin):
    table = f"public.{schema.p}_entries"  # a schema-qualified cache table
    cache = PostgresCache(pool, table_name=table)
    try:
        c = schema.contract
        t = new_tenant()
        admin.execute(f"INSERT INTO tv_{c} (id, tenant_id) VALUES (1, %s)", (t,))
        await cache.get_domain_versions(t, [c])  # held
        # FraiseQL's ResultCache order: get (miss) -> compute -> set; versions read late.
        assert await cache.get_with_metadata("k") == (None, None)
        old_data = [[1, 0]]
        admin.execute(f"UPDATE tv_{c} SET val = 1")   # commits after the data was read
        new = schema.version(t, c)
        assert await until(lambda: _eq(cache.get_domain_versions(t, [c]), {c: new}))
        late = await cache.get_domain_versions(t, [c])
        await cache.set("k", old_data, 300, versions=late)
        assert await cache.get_with_metadata("k") == (None, None)  # not stored
        assert cache.counters["late_tags_refused"] == 1
        # Versions read before the data: stored.
        v = await cache.get_domain_versions(t, [c])
        await cache.get_with_metadata("k")
        await cache.set("k", [[1, 1]], 300, versions=v)
        assert await cache.get_with_metadata("k") == ([[1, 1]], {c: new})
        assert (await cache.get_stats())["total_entries"] == 1
    finally:
        await cache.close()
        admin.execute(f"DROP TABLE IF EXISTS {table}")


async def test_without_the_extension_falls_back_to_ttl(pool, admin):
    """A database without pg_fraiseql_cache: TTL-only, as FraiseQL does."""
    name = "pyc_noext_" + new_tenant()[:8]
    admin.execute(f"CREATE DATABASE {name}")
    try:
        p = AsyncConnectionPool(f"dbname={name}", min_size=1, max_size=2, open=False)
        await p.open(wait=True)
        try:
            cache = PostgresCache(p)
            assert not cache.has_domain_versioning
            assert await cache.get_domain_versions(new_tenant(), ["x"]) == {}
            await cache.set("k", [1], 60, versions={})
            assert await cache.get("k") == [1]
            await cache.close()
        finally:
            await p.close()
    finally:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


async def test_entries_in_redis(pool, schema, admin, redis_url):
    import redis.asyncio as aredis

    r = aredis.Redis.from_url(redis_url)
    prefix = f"{schema.p}:"
    cache = PostgresCache(pool, redis=r, redis_prefix=prefix)
    try:
        c = schema.contract
        t = new_tenant()
        v = await cache.get_domain_versions(t, [c])
        await cache.get_with_metadata("k")
        await cache.set("k", {"rows": [1]}, 300, versions=v)
        assert await cache.get_with_metadata("k") == ({"rows": [1]}, v)
        assert await r.exists(prefix + "k")
        admin.execute(f"INSERT INTO tv_{c} (id, tenant_id) VALUES (1, %s)", (t,))
        assert await until(lambda: _ne(cache.get_domain_versions(t, [c]), v))
        assert await cache.get("k") is None
        assert await cache.delete_pattern("*") == 1
    finally:
        await cache.close()
        await r.connection_pool.disconnect()


async def _ne(awaitable, other):
    return await awaitable != other


def test_bad_table_name():
    with pytest.raises(ValueError, match="schema.name"):
        PostgresCache(object(), table_name="x; DROP TABLE y", auto_initialize=False)
