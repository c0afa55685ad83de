#!/usr/bin/python3
"""Concurrent writers: pgbench TPS of each variant, side by side.

Each variant has its own copy of the same table (--rows rows over --tenants
tenants, the tenant of row i is tenant i mod --tenants). pgbench runs
--clients clients; each transaction updates one random row, then holds
--sleep-ms of application time (`\\sleep`) before COMMIT, as a request
handler that does some work between its write and its commit would:

    \\set id random(1, rows)
    BEGIN;
    UPDATE t SET n = n + 1 WHERE id = :id;
    \\sleep 1 ms
    COMMIT;

A trigger that serialises writers on a shared row (the PL/pgSQL baselines
upsert one version row per tenant inside the transaction) holds that row's
lock through the sleep; pg_fraiseql_cache writes nothing inside the
transaction. Variants run round-robin, --seconds each, the starting variant
rotated every round; VACUUM + CHECKPOINT between rounds. Reported: median,
min and max TPS over the rounds, and the median as a ratio to no trigger.

This measures; it never passes or fails on time.
"""

import argparse
import sys
import time

import common as c

SCHEMA = "bench_conc"
DEFAULT_VARIANTS = ["none", "noop", "fraiseql", "fraiseql_nowait", "naive", "tracker"]


def setup(admin, variants, rows, tenants):
    c.prepare_extensions(admin)
    c.reset_schema(admin, SCHEMA)
    admin.execute(c.baseline_sql(SCHEMA))
    tenant_ids = [c.tenant_uuid(0x100 + k) for k in range(tenants)]
    for v in variants:
        t = f"t_{v}"
        admin.execute(f"CREATE TABLE {SCHEMA}.{t} (id int PRIMARY KEY, tenant_id uuid NOT NULL, "
                      "label text NOT NULL, n int NOT NULL) WITH (autovacuum_enabled = false)")
        admin.execute(f"INSERT INTO {SCHEMA}.{t} SELECT i, (%s::uuid[])[1 + i %% %s], "
                      "'contract row ' || lpad(i::text, 8, '0'), 0 FROM generate_series(1, %s) i",
                      (tenant_ids, tenants, rows))
        c.attach(admin, SCHEMA, v, t, f"conc_{v}")
        admin.execute(f"VACUUM (ANALYZE, FREEZE) {SCHEMA}.{t}")


def maintenance(admin, variants):
    admin.execute(f"TRUNCATE {SCHEMA}.statement_tracker")
    for v in variants:
        admin.execute(f"VACUUM {SCHEMA}.t_{v}")
    admin.execute(f"VACUUM {SCHEMA}.version_naive, {SCHEMA}.version_tracker")
    admin.execute("VACUUM fraiseql_cache.domain_version")
    admin.execute("CHECKPOINT")


def script(variant, rows, sleep_ms):
    return (f"\\set id random(1, {rows})\n"
            "BEGIN;\n"
            f"UPDATE {SCHEMA}.t_{variant} SET n = n + 1 WHERE id = :id;\n"
            f"\\sleep {sleep_ms} ms\n"
            "COMMIT;\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    p.add_argument("--seconds", type=int, default=3, help="pgbench -T per run (default 3)")
    p.add_argument("--warmup-seconds", type=int, default=1, help="pgbench -T of warm-up runs")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--threads", type=int, default=2, help="pgbench -j (default 2)")
    p.add_argument("--tenants", type=int, default=4)
    p.add_argument("--rows", type=int, default=10000)
    p.add_argument("--sleep-ms", type=int, default=1)
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    p.add_argument("--json", help="write the medians here")
    args = p.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in c.VARIANTS:
            p.error(f"unknown variant {v!r}")

    admin = c.connect("concurrency:admin")
    c.progress(f"concurrency: setting up {len(variants)} variants")
    setup(admin, variants, args.rows, args.tenants)
    before = c.stats(admin)

    tps = {v: [] for v in variants}
    failed = {v: 0 for v in variants}
    # The worker's share, per pg_fraiseql_cache variant: CPU seconds,
    # wall seconds, batches, transactions handed off.
    worker = {v: {"cpu_s": 0.0, "wall_s": 0.0, "batches": 0, "transactions": 0}
              for v in variants if v.startswith("fraiseql")}
    started = time.time()
    for r in range(args.warmup + args.rounds):
        timed = r >= args.warmup
        for v in c.rotated(variants, r):
            # The wait_for_bump=off variant shares nothing with the others but
            # the session setting (its own table, the same trigger).
            options = c.NOWAIT_OPTIONS if v == "fraiseql_nowait" else None
            if timed and v in worker:
                s0 = c.stats(admin)
                cpu0 = c.process_cpu_seconds(s0["worker_pid"])
                w0 = time.perf_counter()
            t, _, f = c.pgbench(script(v, args.rows, args.sleep_ms), args.clients, args.threads,
                                args.seconds if timed else args.warmup_seconds,
                                options=options, name=f"concurrency:{v}")
            if timed:
                tps[v].append(t)
                failed[v] += f
            if timed and v in worker:
                c.wait_idle(admin)
                s1 = c.stats(admin)
                cpu1 = c.process_cpu_seconds(s1["worker_pid"])
                w = worker[v]
                w["wall_s"] += time.perf_counter() - w0
                if cpu0 is not None and cpu1 is not None:
                    w["cpu_s"] += cpu1 - cpu0
                w["batches"] += s1["batches"] - s0["batches"]
                w["transactions"] += s1["transactions"] - s0["transactions"]
        maintenance(admin, variants)
        tag = f"round {r - args.warmup + 1}/{args.rounds}" if timed else "warm-up"
        c.progress(f"concurrency: {tag} ({time.time() - started:.0f}s)")
    after = c.stats(admin)

    med = {v: c.summary(tps[v]) for v in variants}
    base = med["none"]["median"] if "none" in med else None
    noop = med["noop"]["median"] if "noop" in med else None
    # Paired: each round's TPS over the same round's no-trigger TPS (the
    # runs of a round are seconds apart, so drift cancels more).
    paired = {v: c.summary([a / b for a, b in zip(tps[v], tps["none"])])
              for v in variants} if "none" in tps else {}
    rows = []
    for v in variants:
        s = med[v]
        pr = paired.get(v)
        rows.append([c.VARIANTS[v], c.num(s["median"]), c.num(s["min"]), c.num(s["max"]),
                     c.ratio(s["median"], base), c.ratio(s["median"], noop),
                     f"{pr['median']:.2f} [{pr['min']:.2f} – {pr['max']:.2f}]" if pr else "–"])
    print("## Concurrent writers (pgbench)\n")
    print(f"`pgbench -n -M prepared -c {args.clients} -j {args.threads} -T {args.seconds}`, "
          f"{args.rounds} timed runs per variant (+{args.warmup} warm-up of {args.warmup_seconds} s), round-robin with the "
          f"start rotated each round. Each transaction: `BEGIN`; `UPDATE` of one random row of "
          f"{args.rows} (over {args.tenants} tenants); `\\sleep {args.sleep_ms} ms`; `COMMIT`. "
          f"wait_for_bump=off via `PGOPTIONS='{c.NOWAIT_OPTIONS}'`. "
          f"Run time {time.time() - started:.0f}s.\n")
    print(c.table(["variant", "median TPS", "min TPS", "max TPS", "× no trigger",
                   "× noop C trigger", "per-round × no trigger, median [min – max]"], rows))
    print()
    if any(failed.values()):
        print("Failed transactions (pgbench): " +
              ", ".join(f"{c.VARIANTS[v]} {n}" for v, n in failed.items() if n) + "\n")
    dt = {k: after[k] - before[k] for k in ("transactions", "bumps", "batches", "wait_timeouts",
                                             "ring_full_waits", "overflows")}
    per_batch = dt["transactions"] / dt["batches"] if dt["batches"] else 0
    print(f"pg_fraiseql_cache's worker during this section: {dt['transactions']:,} transactions "
          f"handed off, {dt['batches']:,} batches ({per_batch:.1f} transactions per batch), "
          f"{dt['bumps']:,} bumps, {dt['wait_timeouts']} wait timeouts, "
          f"{dt['ring_full_waits']} ring-full waits, {dt['overflows']} overflows.\n")
    for v, w in worker.items():
        if w["batches"] and w["cpu_s"]:
            w["core_share"] = w["cpu_s"] / w["wall_s"]
            w["us_per_batch"] = w["cpu_s"] * 1e6 / w["batches"]
            w["xacts_per_batch"] = w["transactions"] / w["batches"]
            print(f"- {c.VARIANTS[v]}: the worker used {100 * w['core_share']:.0f}% of one core "
                  f"(/proc CPU time over the runs' wall time), {w['us_per_batch']:.0f} µs of CPU "
                  f"per batch, {w['xacts_per_batch']:.2f} transactions per batch.")
    print()
    c.write_json(args.json, {"tps": med, "paired": paired, "worker": dt, "worker_cpu": worker})


if __name__ == "__main__":
    sys.exit(main())
