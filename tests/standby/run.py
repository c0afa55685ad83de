"""Runs the standby, promotion and point-in-time restore tests.

    python3 run.py --base DIR --bindir BINDIR --port PORT [--only 1,2,...]

DIR: an empty directory for the nodes (made writable for `postgres`);
PORT: the first of 8 consecutive loopback ports. Prints one PASS/FAIL line
per test and closes with `N passed, N failed`; exits 1 on any failure.
Every server started is stopped before it exits.
"""
import argparse
import os
import signal
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_cost  # noqa: E402
import cluster  # noqa: E402
import test_follow  # noqa: E402
import test_memory  # noqa: E402
import test_pitr  # noqa: E402
import test_promotion  # noqa: E402
from checks import report  # noqa: E402
from topology import primary_and_standby  # noqa: E402

PORTS = 8


class Context:
    def __init__(self, base, bindir, port):
        self.base = base
        self.bindir = bindir
        self.first_port = port
        self.next_port = port

    def port(self):
        if self.next_port >= self.first_port + PORTS:
            raise cluster.TestFailure("more nodes than the ports given")
        p = self.next_port
        self.next_port += 1
        return p


def guarded(label, fn, *args):
    """Runs one test; an exception is that test's failure."""
    try:
        return fn(*args)
    except Exception as e:
        traceback.print_exc(file=sys.stdout)
        return report(label, False, f"{type(e).__name__}: {e}")


def follow_and_cost(ctx, which):
    """Tests 1, 5 and 6 share one primary/standby pair (6 last: it stops the primary)."""
    primary, standby, tenants = primary_and_standby(ctx, "follow", 4)
    results = []
    if 1 in which:
        results.append(guarded("1 standby follows", test_follow.run, ctx, primary, standby,
                               tenants))
    if 5 in which:
        results.append(guarded("5 cost", bench_cost.run, ctx, primary, standby, tenants))
    if 6 in which:
        results.append(guarded("6 shared memory", test_memory.run, ctx, primary, standby,
                               tenants))
    return results


def _terminated(signum, _frame):
    print(f"terminated by signal {signum}", flush=True)
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, _terminated)  # so that the servers are stopped
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--only", default="1,2,3,4,5,6")
    a = ap.parse_args()
    try:
        which = {int(x) for x in a.only.split(",") if x}
    except ValueError:
        ap.error("--only takes test numbers such as 1,3")
    if not which <= {1, 2, 3, 4, 5, 6}:
        ap.error("tests are numbered 1 to 6")
    if not os.path.isdir(a.base) or os.listdir(a.base):
        ap.error(f"--base {a.base} must be an empty directory")
    ctx = Context(a.base, a.bindir, a.port)

    groups = []
    if which & {1, 5, 6}:
        groups.append(("1/5/6 standby follows; cost; shared memory", len(which & {1, 5, 6}),
                       lambda: follow_and_cost(ctx, which)))
    single = {2: ("2 promotion after cut-off", test_promotion.run_cut_off),
              3: ("3 promotion under synchronous replication", test_promotion.run_sync),
              4: ("4 point-in-time restore", test_pitr.run)}
    for n in sorted(which & set(single)):
        label, fn = single[n]
        groups.append((label, 1, lambda label=label, fn=fn: [guarded(label, fn, ctx)]))

    passed = failed = 0
    try:
        for label, count, fn in groups:
            try:
                results = fn()
            except Exception as e:  # setup failed: every test of the group fails
                traceback.print_exc(file=sys.stdout)
                results = [report(label, False, f"{type(e).__name__}: {e}")
                           for _ in range(count)]
            finally:
                cluster.stop_all()
            passed += sum(1 for r in results if r)
            failed += sum(1 for r in results if not r)
    finally:
        cluster.stop_all()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
