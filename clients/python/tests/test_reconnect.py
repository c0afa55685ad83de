"""The listener killed with pg_terminate_backend while writers run: after
every reconnect the watcher answers at least what was committed before."""

import threading
import time

from conftest import new_tenant
from fraiseql_cache import VersionWatcher


def test_listener_killed_mid_run(schema, admin):
    import psycopg

    d = schema.contract
    tenants = [new_tenant() for _ in range(4)]
    for i, t in enumerate(tenants):
        admin.execute(f"INSERT INTO tv_{d} (id, tenant_id) VALUES (%s, %s)", (i, t))
    w = VersionWatcher("", reconnect_initial=0.01, reconnect_max=0.1)
    stop = threading.Event()
    errors = []

    def writer():
        try:
            with psycopg.connect("", autocommit=True) as c:
                while not stop.is_set():
                    for i in range(len(tenants)):
                        c.execute(f"UPDATE tv_{d} SET val = val + 1 WHERE id = %s", (i,))
        except Exception as e:  # reported by the test
            errors.append(e)

    try:
        assert w.wait_until_healthy(10)
        for t in tenants:
            w.versions(t, [d])  # held from now on
        th = threading.Thread(target=writer)
        th.start()
        kills = stale = checks = 0
        for _ in range(8):
            pid = w.listener_pid
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            kills += 1
            # Writes keep committing while the listener is gone (their
            # notifications are lost); some land before the reconnect.
            time.sleep(0.05)
            assert w.wait_until_healthy(10), w.health()
            assert w.listener_pid != pid
            # Every commit that returned before this point is reflected once healthy.
            for t in tenants:
                committed = schema.version(t, d)
                got = w.versions(t, [d])[0]
                checks += 1
                if got < committed and w.healthy:
                    # Only the notification delay may separate them: wait briefly.
                    deadline = time.monotonic() + 2
                    while w.versions(t, [d])[0] < committed and time.monotonic() < deadline:
                        time.sleep(0.001)
                    if w.versions(t, [d])[0] < committed:
                        stale += 1
        stop.set()
        th.join()
        # Quiet now: the local answers equal the server's exactly.
        for t in tenants:
            deadline = time.monotonic() + 5
            while w.versions(t, [d])[0] != schema.version(t, d) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert w.versions(t, [d]) == [schema.version(t, d)]
        print(f"\n[ reconnect ] kills={kills} connects={w.counters['connects']} "
              f"loads={w.counters['loads']} checks={checks} stale_after_reconnect={stale}")
        assert not errors, errors
        assert stale == 0
        assert w.counters["connects"] >= kills + 1
    finally:
        stop.set()
        w.stop()
