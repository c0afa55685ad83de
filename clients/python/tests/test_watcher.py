"""VersionWatcher and AsyncVersionWatcher against the server."""

import time

import pytest

from conftest import new_tenant
from fraiseql_cache import ALL_TENANTS, AsyncVersionWatcher, VersionWatcher


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


@pytest.fixture
def watcher():
    w = VersionWatcher("")
    assert w.wait_until_healthy(10), w.health()
    yield w
    w.stop()


def test_first_read_then_local(watcher, schema, admin):
    t = new_tenant()
    d = schema.contract
    assert watcher.versions(t, [d]) == [schema.version(t, d)]
    assert watcher.counters["first_reads"] == 1
    before = watcher.counters["local_lookups"]
    assert watcher.versions(t, [d]) == [schema.version(t, d)]
    assert watcher.counters["local_lookups"] == before + 1
    assert watcher.health().healthy and not watcher.health().listener_pooled


def test_notifications_raise_local_versions(watcher, schema, admin):
    t = new_tenant()
    d = schema.contract
    v0 = watcher.versions(t, [d])[0]
    admin.execute(f"INSERT INTO tv_{d} VALUES (1, %s)", (t,))
    committed = schema.version(t, d)
    assert committed == v0 + 1
    assert wait_for(lambda: watcher.versions(t, [d]) == [committed])
    assert watcher.counters["notifications"] >= 1
    # Versions never go down, whatever is heard.
    watcher.on_notify("cache_invalidation",
                      '{"tenant_id": "%s", "domain": "%s", "version": 0}' % (t, d))
    assert watcher.versions(t, [d]) == [committed]


def test_global_domain_any_tenant(watcher, schema, admin):
    g = schema.currency
    t1, t2 = new_tenant(), new_tenant()
    assert watcher.versions(t1, [g]) == watcher.versions(t2, [g]) == watcher.versions(None, [g])
    admin.execute(f"INSERT INTO tb_{g} VALUES ('EUR', 1)")
    v = schema.version(ALL_TENANTS, g)
    assert wait_for(lambda: watcher.versions(t1, [g]) == [v])
    assert watcher.versions(t2, [g]) == [v] and watcher.versions(None, [g]) == [v]


def test_refresh_reads_your_writes(schema, admin):
    # A watcher that hears nothing (wrong channel, probe heard on it though):
    # only refresh() can make it see the write.
    w = VersionWatcher("", channel="pyc_nothing_here", resync_interval=0)
    try:
        assert w.wait_until_healthy(10)
        t = new_tenant()
        d = schema.contract
        v0 = w.versions(t, [d])[0]
        admin.execute(f"INSERT INTO tv_{d} VALUES (1, %s)", (t,))
        assert w.versions(t, [d]) == [v0]  # not heard: the local answer lags
        assert w.refresh(t, [d]) == [v0 + 1]
        assert w.versions(t, [d]) == [v0 + 1]
        admin.execute(f"UPDATE tv_{d} SET val = 2")
        w.refresh()  # every held pair
        assert w.versions(t, [d]) == [v0 + 2]
    finally:
        w.stop()


def test_sql_fallback_while_down(schema, admin):
    w = VersionWatcher("host=127.0.0.1 port=1 connect_timeout=1", sql_conninfo="",
                       reconnect_max=0.2)
    try:
        t = new_tenant()
        d = schema.contract
        assert not w.healthy
        admin.execute(f"INSERT INTO tv_{d} VALUES (1, %s)", (t,))
        assert w.versions(t, [d]) == [schema.version(t, d)]
        admin.execute(f"INSERT INTO tv_{d} VALUES (2, %s)", (t,))
        assert w.versions(t, [d]) == [schema.version(t, d)]
        assert w.counters["sql_fallbacks"] == 2 and w.counters["local_lookups"] == 0
        assert "port" in w.health().last_error or w.health().last_error
    finally:
        w.stop()


def test_bad_input(watcher):
    with pytest.raises(ValueError, match="not a uuid"):
        watcher.versions("global", ["d"])
    with pytest.raises(ValueError, match="1 to 63 bytes"):
        watcher.versions(None, [""])
    with pytest.raises(TypeError):
        watcher.versions(None, "contract")
    with pytest.raises(ValueError):
        VersionWatcher("", ping_interval=0, start=False)


async def test_async_watcher(schema, admin):
    import asyncio

    async with AsyncVersionWatcher("") as w:
        assert await w.wait_until_healthy(10), w.health()
        t = new_tenant()
        d = schema.contract
        b = schema.version(t, d)  # the floor: 0 on a fresh install
        assert await w.versions(t, [d]) == [b]
        assert w.local_versions(t, [d]) == [b]
        admin.execute(f"INSERT INTO tv_{d} VALUES (1, %s)", (t,))
        for _ in range(1000):
            if w.local_versions(t, [d]) == [b + 1]:
                break
            await asyncio.sleep(0.005)
        assert await w.versions_dict(t, [d]) == {d: b + 1}
        assert await w.refresh(t, [d]) == [b + 1]
        pid = w.listener_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        admin.execute(f"INSERT INTO tv_{d} VALUES (2, %s)", (t,))
        # The notification of that write is lost; the reload after the reconnect finds it.
        for _ in range(2000):
            if w.listener_pid not in (0, pid) and w.healthy:
                break
            await asyncio.sleep(0.005)
        assert w.healthy and w.listener_pid != pid
        assert w.local_versions(t, [d]) == [b + 2] and await w.versions(t, [d]) == [b + 2]
        assert w.counters["connects"] == 2


@pytest.mark.parametrize("how", ["invalidate_domain", "truncate"])
def test_whole_domain_bump_reaches_every_held_pair(watcher, schema, admin, how):
    """A whole-domain bump (the server may announce it once, on the all-tenants
    pair, with a domain_floor): every held pair follows, written or not."""
    d = schema.contract
    t1, t2 = new_tenant(), new_tenant()
    admin.execute(f"INSERT INTO tv_{d} (id, tenant_id) VALUES (1, %s)", (t1,))
    watcher.versions(t1, [d])
    watcher.versions(t2, [d])  # never written
    before = (schema.version(t1, d), schema.version(t2, d))
    if how == "truncate":
        admin.execute(f"TRUNCATE tv_{d}")
    else:
        admin.execute("SELECT fraiseql_cache.invalidate_domain(%s)", (d,))
    after = (schema.version(t1, d), schema.version(t2, d))
    assert after[0] > before[0]
    assert wait_for(lambda: (watcher.versions(t1, [d])[0], watcher.versions(t2, [d])[0]) == after), \
        (watcher.versions(t1, [d]), watcher.versions(t2, [d]), after)
