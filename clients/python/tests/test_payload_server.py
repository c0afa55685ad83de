"""Payloads delivered by the server to a real listener, on a private channel
(so nothing else hears the synthetic notifications): arrays, unknown keys,
domain_floor, lsn, unreadable payloads, heartbeat floors."""

import json
import time

from conftest import new_tenant
from fraiseql_cache import ALL_TENANTS, VersionWatcher


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


def test_synthetic_payloads(schema, admin):
    channel = f"{schema.p}_chan"
    w = VersionWatcher("", channel=channel, resync_interval=0)
    notify = lambda ch, payload: admin.execute("SELECT pg_notify(%s, %s)", (ch, payload))
    try:
        assert w.wait_until_healthy(10), w.health()
        d, e = schema.contract, schema.item
        t1, t2 = new_tenant(), new_tenant()
        b = schema.version(t1, d)  # the floor: 0 on a fresh install
        be = schema.version(t1, e)
        assert w.versions(t1, [d, e]) == [b, be] and w.versions(t2, [d]) == [b]

        notify(channel, json.dumps([
            {"tenant_id": t1, "domain": d, "version": b + 40, "future_key": [1, {"x": 2}]},
            {"tenant_id": t2, "domain": d, "version": b + 41, "lsn": "0/3000060"}]))
        assert wait_for(lambda: w.versions(t1, [d]) == [b + 40] and w.versions(t2, [d]) == [b + 41])
        assert w.lsn(t2, [d]) == "0/3000060"

        # A domain floor on the all-tenants pair: every held pair of the domain.
        notify(channel, json.dumps({"tenant_id": ALL_TENANTS, "domain": d, "version": b + 90,
                                    "domain_floor": b + 60}))
        assert wait_for(lambda: w.versions(t1, [d]) == [b + 60])
        assert w.versions(t2, [d]) == [b + 60] and w.versions(None, [d]) == [b + 90]
        assert w.versions(t1, [e]) == [be]  # another domain: untouched
        assert w.state.domain_floor(d) == b + 60
        t3 = new_tenant()
        assert w.versions(t3, [d]) == [b + 60]  # a pair read later gets the floor too

        # Unreadable: counted, and everything held is reloaded.
        loads = w.counters["loads"]
        notify(channel, "{not json")
        assert wait_for(lambda: w.counters["payload_errors"] == 1 and w.counters["loads"] > loads)
        assert w.versions(t1, [d]) == [b + 60]  # reloads never lower a version

        # A heartbeat whose floor moved: reload.
        hb = channel + "_heartbeat"
        notify(hb, json.dumps({"at": "now", "published": 1, "floor": 0}))
        assert wait_for(lambda: w.counters["heartbeats"] >= 1)
        loads = w.counters["loads"]
        notify(hb, json.dumps({"at": "now", "published": 2, "floor": 7}))
        assert wait_for(lambda: w.counters["loads"] > loads)
        assert w.healthy
    finally:
        w.stop()
