#!/usr/bin/env python3
"""The conformance scenario through the Python client (clients/python).

Usage: driver.py SCENARIO.json RUN   (server from PGHOST, PGPORT, PGUSER, PGDATABASE)
Prints one JSON line per observation on stdout (see README.md next to this file).
"""

import json
import sys
import time

import psycopg

from fraiseql_cache import VersionWatcher


def subst(value, run):
    return value.replace("{run}", run)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: driver.py SCENARIO.json RUN")
    with open(sys.argv[1]) as f:
        scenario = json.load(f)
    run = sys.argv[2]
    pairs = {k: (subst(p["tenant"], run), subst(p["domain"], run))
             for k, p in scenario["pairs"].items()}
    admin = psycopg.connect("", autocommit=True)
    watcher = VersionWatcher("", resync_interval=0)
    base, prev, killed = {}, {}, None

    def server(tenant, domain):
        return admin.execute("SELECT fraiseql_cache.current_version(%s, %s)",
                             (tenant, domain)).fetchone()[0]

    def observe(step):
        nonlocal killed
        deadline = time.monotonic() + scenario["observe_timeout_s"]
        while True:
            pid = watcher.health().listener_pid
            reconnected = pid != 0 and killed is not None and pid != killed
            local, seen = watcher.healthy, {}
            for label, (tenant, domain) in pairs.items():
                before = watcher.counters["local_lookups"]
                seen[label] = watcher.versions(tenant, [domain])[0]
                local = local and watcher.counters["local_lookups"] == before + 1
            truth = {label: server(*pair) for label, pair in pairs.items()}
            done = local and seen == truth and (not step.get("reconnected") or reconnected)
            if done or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if not base:
            base.update(seen)
            prev.update(seen)
        out = {"step": step["observe"], "local": local, "matches_server": seen == truth,
               "pairs": {label: {"version": v, "server": truth[label], "delta": v - base[label],
                                 "changed": v != prev[label]} for label, v in seen.items()}}
        if step.get("reconnected"):
            out["reconnected"] = reconnected
            killed = None
        prev.update(seen)
        print(json.dumps(out), flush=True)

    try:
        for step in scenario["steps"]:
            if "sql" in step:
                for statement in step["sql"]:
                    admin.execute(subst(statement, run))
            elif "await" in step:
                deadline = time.monotonic() + scenario["await_timeout_s"]
                while not admin.execute(subst(step["await"], run)).fetchone()[0]:
                    if time.monotonic() >= deadline:
                        raise RuntimeError(f"await timed out: {step['await']}")
                    time.sleep(0.05)
            elif "await_heartbeat" in step:
                deadline = time.monotonic() + scenario["await_timeout_s"]
                while watcher.counters["heartbeats"] == 0:
                    if time.monotonic() >= deadline:
                        raise RuntimeError("await_heartbeat timed out")
                    time.sleep(0.05)
            elif "kill_listener" in step:
                killed = watcher.health().listener_pid
                if killed == 0:
                    raise RuntimeError("kill_listener: the listener is not connected")
                admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
            elif "observe" in step:
                observe(step)
            else:
                raise RuntimeError(f"unknown step {step!r}")
    finally:
        watcher.stop()
        admin.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the runner shows this line
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        sys.exit(1)
