"""A listener behind PgBouncer transaction pooling hears nothing: the watcher
must say so (one log line, listener_pooled) and answer over SQL."""

import logging
import os

import pytest

from conftest import new_tenant
from fraiseql_cache import VersionWatcher


def check_pooled_watcher(w, schema, admin, caplog):
    t = new_tenant()
    d = schema.contract
    deadline_ok = False
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if w.health().listener_pooled:
            deadline_ok = True
            break
        time.sleep(0.02)
    assert deadline_ok, w.health()
    assert not w.healthy
    for i in range(3):
        admin.execute(f"INSERT INTO tv_{d} VALUES (%s, %s)", (i, t))
        assert w.versions(t, [d]) == [schema.version(t, d)]
    assert w.counters["sql_fallbacks"] == 3 and w.counters["local_lookups"] == 0
    lines = [r for r in caplog.records if "pooler" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]


def test_silent_listener_is_reported_as_pooled(schema, admin, caplog):
    """Simulated: a heartbeat channel nobody uses and no probe."""
    caplog.set_level(logging.WARNING, logger="fraiseql_cache")
    w = VersionWatcher("", heartbeat_channel="pyc_silent_heartbeat", probe=False,
                       heartbeat_interval=0.2)
    try:
        check_pooled_watcher(w, schema, admin, caplog)
        # Nothing the pooler lets through later makes it trusted again.
        w.on_notify(w.options.heartbeat_channel, '{"at": "x", "published": 1, "floor": 0}')
        assert w.health().listener_pooled and not w.healthy
    finally:
        w.stop()


def test_listener_through_pgbouncer(schema, admin, caplog):
    port = os.environ.get("FRAISEQL_PGBOUNCER_PORT")
    if not port:
        pytest.skip("pgbouncer is not installed")
    caplog.set_level(logging.WARNING, logger="fraiseql_cache")
    dsn = f"host=127.0.0.1 port={port} dbname={os.environ['PGDATABASE']}"
    w = VersionWatcher(dsn, connect_kwargs={"prepare_threshold": None})
    try:
        check_pooled_watcher(w, schema, admin, caplog)
        # Nothing the pooler lets through later makes it trusted again.
        w.on_notify(w.options.heartbeat_channel, '{"at": "x", "published": 1, "floor": 0}')
        assert w.health().listener_pooled and not w.healthy
    finally:
        w.stop()
