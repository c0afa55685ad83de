"""Runs the replica-mode C++ client test against a real primary and hot standby.

    python3 run.py --base DIR --bindir BINDIR --port PORT --program replica_oracle
                   [--seconds N] [--mode replica|plain] [--lookups exact|pending]
                   [--no-failover]

Starts a primary (PORT) and a streaming hot standby (PORT + 1) with
tests/standby/topology.py, runs the C++ program (replica_oracle.cpp) with
writers on the primary and cache clients on the standby, and when it asks
for the failover stops the primary with `-m immediate` and promotes the
standby. Prints the program's output and closes with `N passed, N failed`;
exits 1 on any failure. Every server started is stopped before it exits.
"""
import argparse
import os
import signal
import subprocess
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "standby"))

import cluster  # noqa: E402
from topology import primary_and_standby  # noqa: E402

PORTS = 2


class Context:
    """What topology.py needs: a base directory, binaries, ports."""

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


def tcp(node):
    return f"host=127.0.0.1 port={node.port} user=postgres dbname={cluster.DB}"


def run(a):
    ctx = Context(a.base, a.bindir, a.port)
    primary, standby, tenants = primary_and_standby(ctx, "rc", 4)
    listen = (f"host=127.0.0.1,127.0.0.1 port={primary.port},{standby.port} user=postgres "
              f"dbname={cluster.DB} target_session_attrs=read-write connect_timeout=5")
    cmd = [a.program, "--listen", listen, "--primary", tcp(primary), "--standby", tcp(standby),
           "--tenants", ",".join(tenants), "--seconds", str(a.seconds),
           "--after-seconds", str(max(2, a.seconds // 2)), "--mode", a.mode,
           "--lookups", a.lookups]
    if a.no_failover:
        cmd.append("--no-failover")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    passed = failed = 0
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("PASS: "):
                passed += 1
            elif line.startswith("FAIL: "):
                failed += 1
            elif line.strip() == "ready-for-failover":
                primary.stop("immediate")
                standby.promote()
                took = standby.wait_serving()
                print(f"  standby promoted; serving versions {took:.2f}s later", flush=True)
                proc.stdin.write("promoted\n")
                proc.stdin.flush()
        rc = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if rc != 0 and failed == 0:
        print(f"FAIL: the test program exited with status {rc}", flush=True)
        failed += 1
    return passed, failed


def _terminated(signum, _frame):
    print(f"terminated by signal {signum}", flush=True)
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, _terminated)  # so that the servers are stopped
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--program", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--mode", choices=["replica", "plain"], default="replica")
    ap.add_argument("--lookups", choices=["exact", "pending"], default="exact")
    ap.add_argument("--no-failover", action="store_true")
    a = ap.parse_args()
    if a.seconds < 1:
        ap.error("--seconds must be at least 1")
    if not os.path.isdir(a.base) or os.listdir(a.base):
        ap.error(f"--base {a.base} must be an empty directory")
    if not os.access(a.program, os.X_OK):
        ap.error(f"--program {a.program} is not an executable")
    passed = failed = 0
    try:
        passed, failed = run(a)
    except Exception as e:
        traceback.print_exc(file=sys.stdout)
        print(f"FAIL: setup ({type(e).__name__}: {e})", flush=True)
        failed += 1
    finally:
        cluster.stop_all()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
