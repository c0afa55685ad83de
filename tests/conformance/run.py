#!/usr/bin/env python3
"""Runs tests/conformance/scenario.json through every client and compares.

Starts a throwaway cluster with scripts/cluster.sh (pg_config from PATH) with a
16-slot commit ring (so that the scenario can overflow it and force a reset),
runs each client's driver against it, and fails when a client's observations
differ from the scenario's expectations or from another client's.

Environment: FRAISEQL_CONFORMANCE_PORT (the cluster's port),
FRAISEQL_CONFORMANCE_DIR (its directory), FRAISEQL_CLIENT_BUILD_DIR (the meson
build holding tests/conformance/conformance_driver), FRAISEQL_CONFORMANCE_CLIENTS
(default "cpp,python,node"), FRAISEQL_PYTHON, FRAISEQL_NODE.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCENARIO = os.path.join(HERE, "scenario.json")
CLIENTS = ("cpp", "python", "node")


def say(line):
    print(f"conformance: {line}", flush=True)


def driver_command(client, build):
    if client == "cpp":
        exe = os.path.join(build, "tests", "conformance", "conformance_driver")
        if not os.access(exe, os.X_OK):
            raise RuntimeError(f"{exe} was not built (meson, libpqxx-dev, libhiredis-dev)")
        return [exe]
    if client == "python":
        return [os.environ.get("FRAISEQL_PYTHON", "/usr/bin/python3"), os.path.join(HERE, "driver.py")]
    if client == "node":
        return [os.environ.get("FRAISEQL_NODE", "node"), os.path.join(HERE, "driver.js")]
    raise RuntimeError(f"unknown client {client!r} (known: {', '.join(CLIENTS)})")


def expected_observations(scenario):
    out = []
    for step in scenario["steps"]:
        if "observe" in step:
            out.append(step)
    return out


def normalize(obs, step):
    """What must be equal across clients: every pair's `changed`, the deltas the
    scenario names, and the flags."""
    pairs = {}
    for label, p in obs.get("pairs", {}).items():
        n = {"changed": p.get("changed")}
        if "delta" in step["expect"].get(label, {}):
            n["delta"] = p.get("delta")
        pairs[label] = n
    n = {"step": obs.get("step"), "local": obs.get("local"),
         "matches_server": obs.get("matches_server"), "pairs": pairs}
    if step.get("reconnected"):
        n["reconnected"] = obs.get("reconnected")
    return n


def check(obs_list, steps):
    """Differences from the expectations, as lines."""
    problems = []
    if len(obs_list) != len(steps):
        problems.append(f"{len(obs_list)} observations, the scenario has {len(steps)}")
    for obs, step in zip(obs_list, steps):
        name = step["observe"]
        if obs.get("step") != name:
            problems.append(f"observation {obs.get('step')!r} where {name!r} was expected")
            continue
        for flag in ("local", "matches_server") + (("reconnected",) if step.get("reconnected") else ()):
            if obs.get(flag) is not True:
                problems.append(f"{name}: {flag} is {obs.get(flag)!r}")
        for label, want in step["expect"].items():
            got = obs.get("pairs", {}).get(label)
            if got is None:
                problems.append(f"{name}: pair {label} missing")
                continue
            for field, value in want.items():
                if got.get(field) != value:
                    problems.append(f"{name}: {label}.{field} = {got.get(field)!r}, expected {value!r}"
                                    f" (client {got.get('version')}, server {got.get('server')})")
    return problems


def run_client(client, build, run, env):
    cmd = driver_command(client, build) + [SCENARIO, run]
    start = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - start
    obs, problems = [], []
    for line in p.stdout.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            problems.append(f"not JSON: {line[:200]}")
            continue
        if "error" in doc:
            problems.append(f"driver error: {doc['error']}")
        else:
            obs.append(doc)
    if p.returncode != 0:
        problems.append(f"driver exited with {p.returncode}")
    if problems and p.stderr.strip():
        problems.append("stderr: " + p.stderr.strip()[-2000:])
    return obs, problems, elapsed


def resume_worker(env):
    """A driver that failed between the scenario's SIGSTOP and SIGCONT of the
    worker would leave it stopped for the next client."""
    p = subprocess.run(["psql", "-X", "-At", "-c", "SELECT worker_pid FROM fraiseql_cache.stats()"],
                       env=env, capture_output=True, text=True)
    if p.returncode == 0 and p.stdout.strip().isdigit():
        try:
            os.kill(int(p.stdout.strip()), signal.SIGCONT)
        except OSError:
            pass


def main():
    with open(SCENARIO) as f:
        scenario = json.load(f)
    steps = expected_observations(scenario)
    clients = [c.strip() for c in os.environ.get("FRAISEQL_CONFORMANCE_CLIENTS", ",".join(CLIENTS)).split(",") if c.strip()]
    build = os.environ.get("FRAISEQL_CLIENT_BUILD_DIR", os.path.join(ROOT, "build", "meson"))
    port = os.environ.get("FRAISEQL_CONFORMANCE_PORT",
                          str(int(os.environ.get("FRAISEQL_PORT", "55432")) + 48))
    cdir = os.environ.get("FRAISEQL_CONFORMANCE_DIR", f"/tmp/fc_conformance_{port}")
    db = "fraiseql_conformance"
    cluster_env = dict(os.environ, FRAISEQL_CLUSTER_DIR=cdir, FRAISEQL_PORT=port, FRAISEQL_DB=db,
                       FRAISEQL_EXTRA_CONF="fraiseql_cache.ring_size = 16")
    cluster = os.path.join(ROOT, "scripts", "cluster.sh")
    env = dict(os.environ, PGHOST=cdir, PGPORT=port, PGUSER="postgres", PGDATABASE=db,
               PYTHONPATH=os.path.join(ROOT, "clients", "python", "src"),
               NODE_PATH=os.path.join(ROOT, "clients", "node", "node_modules"))
    env.pop("PGOPTIONS", None)
    failed = []
    started = subprocess.run([cluster, "start"], env=cluster_env, capture_output=True, text=True)
    if started.returncode != 0:
        print(started.stdout + started.stderr)
        say(f"FAILED: could not start a cluster on port {port} in {cdir}")
        return 1
    try:
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        "CREATE EXTENSION pg_fraiseql_cache"], env=env, check=True)
        results = {}
        runs = random.sample(range(0x1000, 0x10000), len(clients))
        for client, run in zip(clients, runs):
            try:
                obs, problems, elapsed = run_client(client, build, f"{run:04x}", env)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                obs, problems, elapsed = [], [str(e)], 0.0
            resume_worker(env)
            problems += check(obs, steps)
            results[client] = [normalize(o, s) for o, s in zip(obs, steps)]
            if problems:
                failed.append(client)
                say(f"{client} FAILED ({elapsed:.1f} s):")
                for line in problems:
                    print(f"    {line}")
                for o in obs:
                    print(f"    observed: {json.dumps(o)}")
            else:
                say(f"{client} ok: {len(obs)} observations as expected ({elapsed:.1f} s)")
        # The same observations from every client (beyond the expectations:
        # every pair's `changed`, in every observation).
        ref = next((c for c in clients if c not in failed), clients[0] if clients else None)
        for client in clients:
            if client != ref and results[client] != results[ref]:
                for a, b in zip(results[ref], results[client]):
                    if a != b:
                        say(f"{client} differs from {ref} at {a['step']}: {json.dumps(b)} vs {json.dumps(a)}")
                if client not in failed:
                    failed.append(client)
    finally:
        subprocess.run([cluster, "destroy"], env=cluster_env, capture_output=True)
    if not clients:
        say("FAILED: no client selected")
        return 1
    if failed:
        say(f"FAILED: {', '.join(failed)} (of {', '.join(clients)})")
        return 1
    say(f"passed: {', '.join(clients)} agree on {len(steps)} observations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
