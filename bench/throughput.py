#!/usr/bin/python3
"""Worker throughput: (tenant, domain) pair bumps per second.

Two shapes, chosen with --mode:

  sustained  pgbench, --clients sessions, each transaction an UPDATE of one
             block of --block rows, every row of the table a different
             tenant (--tenants rows), so every transaction hands --block + 1
             distinct pairs (its tenants and the all-tenants pair) to the
             worker. Throughput = stats().bumps delta / wall time, from the
             start of pgbench until the ring is drained. With wait_for_bump
             on (the default) each session waits for its publication, so
             the pipeline is the worker's pace.

  single     One transaction updates --tenants rows, each a different
             tenant (--tenants + 1 pairs). Its session has wait_for_bump
             off, so COMMIT returns after the hand-off; the time is from
             sending COMMIT until the last pair is published (stats():
             ring drained and bumps grown by all the pairs; verified with
             current_version() of every pair afterwards). The ring must hold
             the transaction (ring_size at least 4 × its pairs, or the
             transaction is handed off as whole-domain bumps) and shared
             memory its pairs (max_entries): scripts/benchmark.sh restarts
             the cluster with larger settings for this mode.

Runs: --runs samples (+1 warm-up); reported median, min and max.

This measures; it never passes or fails on time.
"""

import argparse
import sys
import time

import common as c

SCHEMA = "bench_tp"
DOMAIN = "tp_item"


def setup(admin, tenants, block):
    c.prepare_extensions(admin)
    c.reset_schema(admin, SCHEMA)
    admin.execute(f"CREATE TABLE {SCHEMA}.items (id int PRIMARY KEY, blk int NOT NULL, "
                  "tenant_id uuid NOT NULL, n int NOT NULL) WITH (autovacuum_enabled = false)")
    admin.execute(f"INSERT INTO {SCHEMA}.items SELECT i, (i - 1) / %s, "
                  "(lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, "
                  "0 FROM generate_series(1, %s) i", (block, tenants))
    admin.execute(f"CREATE INDEX ON {SCHEMA}.items (blk)")
    admin.execute("SELECT fraiseql_cache.setup_table_invalidation(%s, %s)",
                  (f"{SCHEMA}.items", DOMAIN))
    admin.execute(f"VACUUM (ANALYZE, FREEZE) {SCHEMA}.items")


def settle(admin):
    if not c.wait_idle(admin, 120):
        raise RuntimeError("the worker did not drain the ring within 120 s")


def sustained(admin, args):
    nblocks = args.tenants // args.block
    setup(admin, nblocks * args.block, args.block)
    # Every pair known first: the timed runs measure bumps, not first inserts.
    with c.connect("throughput:warm", options=c.NOWAIT_OPTIONS) as w:
        for b in range(nblocks):
            w.execute(f"UPDATE {SCHEMA}.items SET n = n + 1 WHERE blk = %s", (b,))
    settle(admin)
    script = (f"\\set b random(0, {nblocks - 1})\n"
              f"UPDATE {SCHEMA}.items SET n = n + 1 WHERE blk = :b;\n")
    samples, deltas = [], []
    started = time.time()
    for r in range(args.runs + 1):
        s0 = c.stats(admin)
        cpu0 = c.process_cpu_seconds(s0["worker_pid"])
        t0 = time.perf_counter()
        tps, _, _ = c.pgbench(script, args.clients, min(args.clients, 2), args.seconds,
                              name="throughput:sustained")
        settle(admin)
        t1 = time.perf_counter()
        s1 = c.stats(admin)
        d = {k: s1[k] - s0[k] for k in ("bumps", "batches", "transactions", "wait_timeouts",
                                        "ring_full_waits", "overflows", "resets")}
        d["seconds"] = t1 - t0
        d["tps"] = tps
        cpu1 = c.process_cpu_seconds(s1["worker_pid"])
        d["worker_cpu_s"] = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else 0.0
        if r > 0:
            samples.append(d["bumps"] / d["seconds"])
            deltas.append(d)
        admin.execute(f"VACUUM {SCHEMA}.items")
        admin.execute("VACUUM fraiseql_cache.domain_version")
        c.progress(f"throughput (sustained): run {r}/{args.runs} "
                   f"{d['bumps'] / d['seconds']:,.0f} bumps/s ({time.time() - started:.0f}s)")
    s = c.summary(samples)
    tot = {k: sum(d[k] for d in deltas) for k in deltas[0]}
    print(f"### Sustained: {args.clients} sessions, {args.block}-tenant transactions\n")
    print(f"`pgbench -M prepared -c {args.clients} -T {args.seconds}`, each transaction an "
          f"`UPDATE` of {args.block} rows of distinct tenants (out of {nblocks * args.block:,}; "
          f"{args.block + 1} pairs per transaction with the all-tenants pair), default "
          f"wait_for_bump = on. {args.runs} runs (+1 warm-up); time from pgbench's start until "
          "the ring is drained.\n")
    print(c.table(["figure", "median", "min", "max"], [
        ["pair bumps per second", c.num(s["median"]), c.num(s["min"]), c.num(s["max"])],
    ]))
    bpb = tot["bumps"] / tot["batches"] if tot["batches"] else 0
    xpb = tot["transactions"] / tot["batches"] if tot["batches"] else 0
    print(f"\nAll runs: {tot['transactions']:,} transactions, {tot['batches']:,} worker batches "
          f"({xpb:.2f} transactions, {bpb:,.0f} bumps per batch), {tot['bumps']:,} bumps, "
          f"{tot['wait_timeouts']} wait timeouts, {tot['ring_full_waits']} ring-full waits, "
          f"{tot['overflows']} overflows, {tot['resets']} resets.")
    cpu = worker_cpu_line(tot, deltas)
    print(cpu["line"] + "\n")
    return {"bumps_per_s": s, "totals": tot, "worker_cpu": cpu}


def single(admin, args):
    setup(admin, args.tenants, args.tenants)
    n_pairs = args.tenants + 1
    conn = c.connect("throughput:single", options=c.NOWAIT_OPTIONS, autocommit=False)
    # First touch: every pair enters shared memory (not timed).
    conn.execute(f"UPDATE {SCHEMA}.items SET n = n + 1")
    conn.commit()
    settle(admin)
    samples, commit_ms, deltas = [], [], []
    started = time.time()
    for r in range(args.runs + 1):
        conn.execute(f"UPDATE {SCHEMA}.items SET n = n + 1")
        s0 = c.stats(admin)
        cpu0 = c.process_cpu_seconds(s0["worker_pid"])
        t0 = time.perf_counter()
        conn.commit()
        t1 = time.perf_counter()
        while True:
            s = c.stats(admin)
            if s["ring_used"] == 0 and s["bumps"] - s0["bumps"] >= n_pairs:
                break
            if s.get("collapsed_transactions", 0) > s0.get("collapsed_transactions", 0):
                raise RuntimeError(
                    f"the {n_pairs:,}-pair transaction was handed off as whole-domain bumps "
                    f"(stats().collapsed_transactions grew): fraiseql_cache.ring_size "
                    f"({s['ring_size']:,}) must be at least 4 × its pairs")
            if time.perf_counter() - t0 > 120:
                raise RuntimeError("the worker did not publish the transaction within 120 s")
            time.sleep(0.001)
        t2 = time.perf_counter()
        cpu1 = c.process_cpu_seconds(s["worker_pid"])
        d = {k: s[k] - s0[k] for k in ("bumps", "batches", "overflows", "resets",
                                       "ring_full_waits", "spilled_pairs")}
        d["worker_cpu_s"] = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else 0.0
        stale = admin.execute(
            f"SELECT count(*) FROM {SCHEMA}.items i, fraiseql_cache.domain_version dv "
            "WHERE dv.tenant_id = i.tenant_id AND dv.domain = %s "
            "AND fraiseql_cache.current_version(i.tenant_id, %s) <> dv.version",
            (DOMAIN, DOMAIN)).fetchone()[0]
        if stale:
            raise RuntimeError(f"{stale} pairs differ between shared memory and domain_version")
        if r > 0:
            samples.append(n_pairs / (t2 - t0))
            commit_ms.append((t1 - t0) * 1e3)
            d["seconds"] = t2 - t0
            deltas.append(d)
        admin.execute(f"VACUUM {SCHEMA}.items")
        admin.execute("VACUUM fraiseql_cache.domain_version")
        c.progress(f"throughput (single): run {r}/{args.runs} {n_pairs / (t2 - t0):,.0f} "
                   f"pairs/s ({time.time() - started:.0f}s)")
    conn.close()
    s = c.summary(samples)
    secs = c.summary([d["seconds"] for d in deltas])
    cm = c.summary(commit_ms)
    tot = {k: sum(d[k] for d in deltas) for k in deltas[0]}
    print(f"### One transaction touching {args.tenants:,} tenants\n")
    settings = admin.execute(
        "SELECT string_agg(name || ' = ' || setting, ', ' ORDER BY name) FROM pg_settings "
        "WHERE name IN ('fraiseql_cache.ring_size', 'fraiseql_cache.max_entries', "
        "'fraiseql_cache.notify_format')").fetchone()[0]
    print(f"An `UPDATE` of {args.tenants:,} rows, each a different tenant ({n_pairs:,} pairs), "
          f"committed with wait_for_bump = off; time from sending COMMIT until every pair is "
          f"published. Cluster restarted with {settings}. {args.runs} runs (+1 warm-up).\n")
    print(c.table(["figure", "median", "min", "max"], [
        ["pair bumps per second", c.num(s["median"]), c.num(s["min"]), c.num(s["max"])],
        ["COMMIT sent → last pair published, ms", c.num(secs["median"] * 1e3),
         c.num(secs["min"] * 1e3), c.num(secs["max"] * 1e3)],
        ["COMMIT round trip (hand-off of all pairs), ms", c.num(cm["median"]), c.num(cm["min"]),
         c.num(cm["max"])],
    ]))
    print(f"\nAll runs: {tot['batches']} worker batches, {tot['bumps']:,} bumps, "
          f"{tot['ring_full_waits']} ring-full waits, {tot['overflows']} overflows, "
          f"{tot['resets']} resets, {tot['spilled_pairs']} spilled pairs.")
    cpu = worker_cpu_line(tot, deltas)
    print(cpu["line"] + "\n")
    return {"worker_cpu": cpu, "bumps_per_s": s, "seconds": secs, "commit_ms": cm, "totals": tot,
            "pairs": n_pairs}


def worker_cpu_line(tot, deltas):
    """The worker's own CPU per bump: its capacity with a core to itself
    (pooled over the runs, and the median of the runs' own figures)."""
    if not tot.get("worker_cpu_s") or not tot.get("bumps"):
        return {"line": "Worker CPU time: not measurable (server not local).",
                "us_per_bump": None, "bumps_per_cpu_s": None, "per_run_bumps_per_cpu_s": None}
    us = tot["worker_cpu_s"] * 1e6 / tot["bumps"]
    runs = [d["bumps"] / d["worker_cpu_s"] for d in deltas if d["worker_cpu_s"] > 0]
    pr = c.summary(runs) if runs else None
    per_run = (f" Per run: median {pr['median']:,.0f} [{pr['min']:,.0f} – {pr['max']:,.0f}] "
               "bumps per worker CPU-second." if pr else "")
    return {"line": f"Worker process CPU time (/proc): {tot['worker_cpu_s']:.2f} s for "
                    f"{tot['bumps']:,} bumps = {us:.1f} µs per bump, i.e. "
                    f"{1e6 / us:,.0f} bumps per second of worker CPU.{per_run}",
            "us_per_bump": us, "bumps_per_cpu_s": 1e6 / us, "per_run_bumps_per_cpu_s": pr}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--mode", choices=("sustained", "single"), default="sustained")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--tenants", type=int, help="default 32000 (sustained), 100000 (single)")
    p.add_argument("--block", type=int, default=1000, help="rows per transaction (sustained)")
    p.add_argument("--clients", type=int, default=4, help="sessions (sustained)")
    p.add_argument("--seconds", type=int, default=2, help="pgbench -T (sustained)")
    p.add_argument("--header", action="store_true", help="print the section heading")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args()
    if args.tenants is None:
        args.tenants = 32000 if args.mode == "sustained" else 100000
    admin = c.connect("throughput:admin")
    if args.header:
        print("## Worker throughput\n")
    res = sustained(admin, args) if args.mode == "sustained" else single(admin, args)
    c.write_json(args.json, res)


if __name__ == "__main__":
    sys.exit(main())
