"""Shared checks and reporting for the standby tests."""
import time

from cluster import ALL_TENANTS, TestFailure
from workload import live_versions, table_versions


def report(name, ok, why=""):
    print(f"{'PASS' if ok else 'FAIL'}: {name}{'' if ok else ' (' + why + ')'}", flush=True)
    return ok


def thread_errors(threads, expected_loss=False):
    """Errors of load threads; with expected_loss, a lost connection is fine."""
    import psycopg
    errs = []
    for t in threads:
        if t.error is None:
            continue
        if expected_loss and isinstance(t.error, psycopg.OperationalError):
            continue
        errs.append(f"{t.name}: {t.error!r}")
    return errs


def notifications_heard(threads):
    """The NOTIFY count of the listeners among `threads`, printed; an error
    text when a listener heard nothing (then half the record is missing)."""
    from workload import Listener
    listeners = [t for t in threads if isinstance(t, Listener)]
    counts = [t.notifications for t in listeners]
    print(f"  notifications heard on the original: {', '.join(map(str, counts))}")
    if not listeners or min(counts) == 0:
        return ["a listener heard no notification"]
    return []


def settled_versions(node, tenants, timeout=30):
    """Waits until the node's persisted versions equal its published ones and
    stay put, then returns {(tenant, domain): version}."""
    deadline = time.monotonic() + timeout
    previous = None
    with node.connect() as c:
        while time.monotonic() < deadline:
            table = table_versions(c)
            live = live_versions(c, tenants)
            agree = all(table.get(k) == v for k, v in live.items())
            if agree and table == previous:
                return table
            previous = table if agree else None
            time.sleep(0.2)
    raise TestFailure(f"{node.name}: versions did not settle within {timeout}s")


def check_raised(before, after, tenants):
    """Every version seen after (lowest) must exceed every version seen before
    (highest), for every pair seen before. Prints the figures; returns the
    failures (none: passed)."""
    bad = []
    for key, high in sorted(before.high.items()):
        low = after.low.get(key)
        if low is None or low <= high:
            bad.append((key, high, low))
    for label, key in (("all-tenants", (ALL_TENANTS, "contract")),
                       ("tenant", (str(tenants[0]), "contract"))):
        print(f"  {label} pair {key[0]}: highest before {before.high.get(key)}, "
              f"lowest after {after.low.get(key)}")
    print(f"  pairs seen before: {len(before.high)}, observations before: {before.count}, "
          f"after: {after.count}; pairs not raised past what was seen: {len(bad)}")
    for key, high, low in bad[:5]:
        print(f"    {key}: highest before {high}, lowest after {low}")
    if not before.high:
        return ["no versions were recorded before"]
    if bad:
        return [f"{len(bad)} pairs show a version after that was already reached before"]
    return []
