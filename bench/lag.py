#!/usr/bin/python3
"""Lag: from COMMIT to the NOTIFY that announces its bump, at a fixed rate.

One connection commits single-row UPDATEs (autocommit: each statement is
its own transaction) at --rate commits per second, paced on an absolute
schedule; a separate process LISTENs on cache_invalidation. Every commit of
a run touches a different tenant, so the first notification naming that
tenant after the commit was sent is the one that announces it. Times are
time.monotonic_ns() (CLOCK_MONOTONIC, the same clock in both processes),
taken in the client:

  sent      just before the statement (and so its COMMIT) is sent
  returned  when the statement returned, COMMIT done

Lag = notification received - sent (the figure the target is about); also
reported against `returned`. With wait_for_bump = on, COMMIT returns only
after the worker has published the bump, and the worker sends the NOTIFY
in the transaction that persists the batch, before publishing it: the
notification usually arrives *before* COMMIT returns (negative lag against
`returned`). With wait_for_bump = off COMMIT returns at once.

Each setting runs --runs runs of --seconds, alternating; per run the p50 and
p99 are computed; reported: the median, min and max of those over the runs,
and the p50/p99 of all samples pooled.

This measures; it never passes or fails on time.
"""

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time

import common as c

SCHEMA = "bench_lag"
DOMAIN = "lag_item"
STOP_CHANNEL = "bench_lag_stop"


def listener(channel, ready, out):
    conn = c.connect("lag:listener")
    conn.execute(f"LISTEN {channel}")
    conn.execute(f"LISTEN {STOP_CHANNEL}")
    ready.set()
    got = []
    for n in conn.notifies():
        t = time.monotonic_ns()
        if n.channel == STOP_CHANNEL:
            break
        try:
            payload = json.loads(n.payload)
        except ValueError:
            got.append((t, None, None))
            continue
        for obj in payload if isinstance(payload, list) else [payload]:
            if obj.get("domain") == DOMAIN:
                got.append((t, obj.get("tenant_id"), obj.get("version")))
    out.send(got)
    conn.close()


def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def one_run(channel, wait, rate, seconds, tenants, run_no):
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=listener, args=(channel, ready, send), daemon=True)
    proc.start()
    if not ready.wait(10):
        raise RuntimeError("listener did not start")
    conn = c.connect(f"lag:writer:{'on' if wait else 'off'}",
                     options="" if wait else c.NOWAIT_OPTIONS)
    cur = conn.cursor()
    stmt = f"UPDATE {SCHEMA}.items SET n = n + 1 WHERE id = %s"
    cur.execute(stmt, (1,), prepare=True)  # prepare, untimed
    n = int(rate * seconds)
    offset = (run_no * n) % len(tenants)
    sent, returned, who = [], [], []
    late = 0
    interval = 1e9 / rate
    t_start = time.monotonic_ns() + 20_000_000
    for i in range(n):
        due = t_start + int(i * interval)
        now = time.monotonic_ns()
        if due > now:
            time.sleep((due - now) / 1e9)
        else:
            late += 1
        row = (offset + i) % len(tenants)
        t0 = time.monotonic_ns()
        cur.execute(stmt, (row + 1,))
        t1 = time.monotonic_ns()
        sent.append(t0)
        returned.append(t1)
        who.append(tenants[row])
    # Let the last notifications arrive, then stop the listener.
    time.sleep(0.2)
    conn.execute(f"NOTIFY {STOP_CHANNEL}")
    got = recv.recv()
    proc.join(5)
    conn.close()
    first = {}
    for t, tenant, _ in got:
        if tenant is not None:
            first.setdefault(tenant, []).append(t)
    lag_sent, lag_ret, missing = [], [], 0
    for t0, t1, tenant in zip(sent, returned, who):
        ts = [t for t in first.get(tenant, ()) if t >= t0]
        if not ts:
            missing += 1
            continue
        lag_sent.append((ts[0] - t0) / 1e6)
        lag_ret.append((ts[0] - t1) / 1e6)
    commit_ms = [(b - a) / 1e6 for a, b in zip(sent, returned)]
    return {"lag_sent": lag_sent, "lag_returned": lag_ret, "commit_ms": commit_ms,
            "missing": missing, "late": late, "commits": n,
            "elapsed_s": (returned[-1] - sent[0]) / 1e9}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--runs", type=int, default=10, help="runs per setting (default 10)")
    p.add_argument("--rate", type=float, default=200.0, help="commits per second (default 200)")
    p.add_argument("--seconds", type=float, default=2.0, help="per run (default 2)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args()

    admin = c.connect("lag:admin")
    c.prepare_extensions(admin)
    channel = admin.execute("SHOW fraiseql_cache.notify_channel").fetchone()[0]
    fmt = admin.execute("SHOW fraiseql_cache.notify_format").fetchone()[0]
    c.reset_schema(admin, SCHEMA)
    per_run = int(args.rate * args.seconds)
    ntenants = max(per_run, 1)
    tenants = [c.tenant_uuid(0x10000 + k) for k in range(ntenants)]
    admin.execute(f"CREATE TABLE {SCHEMA}.items (id int PRIMARY KEY, tenant_id uuid NOT NULL, "
                  "n int NOT NULL)")
    admin.execute(f"INSERT INTO {SCHEMA}.items SELECT i, (%s::uuid[])[i], 0 "
                  "FROM generate_series(1, %s) i", (tenants, ntenants))
    admin.execute("SELECT fraiseql_cache.setup_table_invalidation(%s, %s)",
                  (f"{SCHEMA}.items", DOMAIN))
    admin.execute(f"VACUUM ANALYZE {SCHEMA}.items")
    # Every tenant's pair known to the worker and shared memory first.
    admin.execute(f"UPDATE {SCHEMA}.items SET n = n + 1")
    c.wait_idle(admin)

    settings = [("on", True), ("off", False)]
    runs = {name: [] for name, _ in settings}
    started = time.time()
    st0 = c.stats(admin)
    for r in range(args.runs + 1):
        for name, wait in c.rotated(settings, r):
            res = one_run(channel, wait, args.rate, args.seconds, tenants, r)
            if r > 0:
                runs[name].append(res)
        admin.execute("VACUUM fraiseql_cache.domain_version")
        c.progress(f"lag: run {r}/{args.runs} ({time.time() - started:.0f}s)")
    st1 = c.stats(admin)

    print("## Lag: COMMIT to NOTIFY received\n")
    print(f"{args.rate:.0f} commits/s from one connection for {args.seconds:g} s per run, "
          f"{args.runs} runs per setting (+1 warm-up), the two settings alternating; a separate "
          f"process LISTENs on `{channel}` (notify_format = {fmt}). Client-side "
          "`time.monotonic_ns()`; *sent* = just before the autocommit `UPDATE` (and so its "
          "COMMIT) was sent, *returned* = when it returned. Per run p50 and p99; the table gives "
          "the median of the runs' values, [min – max] across runs, and the pooled percentile "
          "of all samples.\n")
    rows = []
    out = {}
    for name, _ in settings:
        rs = runs[name]
        res = {}
        for key, label in (("lag_sent", "sent → NOTIFY"), ("lag_returned", "returned → NOTIFY"),
                           ("commit_ms", "COMMIT round trip")):
            p50 = [percentile(x[key], 0.5) for x in rs if x[key]]
            p99 = [percentile(x[key], 0.99) for x in rs if x[key]]
            pooled = [v for x in rs for v in x[key]]
            res[key] = {"p50": c.summary(p50), "p99": c.summary(p99),
                        "pooled_p50": percentile(pooled, 0.5),
                        "pooled_p99": percentile(pooled, 0.99),
                        "pooled_max": max(pooled) if pooled else None}
            s50, s99 = res[key]["p50"], res[key]["p99"]
            rows.append([f"wait_for_bump = {name}", label,
                         f"{c.num(s50['median'])} [{c.num(s50['min'])} – {c.num(s50['max'])}]",
                         f"{c.num(s99['median'])} [{c.num(s99['min'])} – {c.num(s99['max'])}]",
                         c.num(res[key]["pooled_p50"]), c.num(res[key]["pooled_p99"]),
                         c.num(res[key]["pooled_max"])])
        res["missing"] = sum(x["missing"] for x in rs)
        res["late"] = sum(x["late"] for x in rs)
        res["commits"] = sum(x["commits"] for x in rs)
        res["achieved_rate"] = statistics.median(x["commits"] / x["elapsed_s"] for x in rs)
        out[name] = res
    print(c.table(["setting", "interval", "p50 ms, median [min – max]",
                   "p99 ms, median [min – max]", "pooled p50 ms", "pooled p99 ms",
                   "pooled max ms"], rows, "llrrrrr"))
    print()
    for name, _ in settings:
        r = out[name]
        print(f"- wait_for_bump = {name}: {r['commits']:,} commits, achieved "
              f"{r['achieved_rate']:.0f} commits/s (median of runs), {r['late']} commits sent "
              f"behind schedule, {r['missing']} without a matching notification.")
    d_b = st1["batches"] - st0["batches"]
    d_x = st1["transactions"] - st0["transactions"]
    print(f"- The worker made {d_b:,} batches for {d_x:,} transactions "
          f"({d_x / d_b if d_b else 0:.2f} per batch); server-side stats().max_batch_lag_ms "
          f"since start: {st1['max_batch_lag_ms']}.\n")
    c.write_json(args.json, out)


if __name__ == "__main__":
    sys.exit(main())
