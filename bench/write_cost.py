#!/usr/bin/python3
"""SQL-level write cost of pg_fraiseql_cache's row trigger, side by side.

Every variant gets its own copy of the same table (and its own session), and
every workload runs on every variant in each round, round-robin, with the
starting variant rotated from round to round: drift, checkpoints and noisy
neighbours hit all variants alike. Each timed statement is its own committed
transaction (autocommit), because pg_fraiseql_cache hands its pairs off at
COMMIT and, with fraiseql_cache.wait_for_bump on (the default), waits there
for the worker to publish them. Times are client-side wall clock.

This measures; it never passes or fails on time.

Variants
  none      no trigger
  noop      fraiseql_bench_noop.noop_row(): a C BEFORE ROW trigger that
            returns the row (bench/noop_trigger), the floor of the machinery
  fraiseql  fraiseql_cache.setup_table_invalidation() (BEFORE ROW C trigger,
            hand-off at commit, commit waits for the worker's publication)
  fraiseql_nowait  the same with fraiseql_cache.wait_for_bump = off
            (not run by default; --variants to add it)
  naive     PL/pgSQL AFTER ROW trigger upserting (tenant, domain) into a
            version table, version + 1, for every row
  tracker   PL/pgSQL AFTER ROW "statement tracker": insert (backend pid,
            statement_timestamp(), tenant, domain) into an UNLOGGED table with
            a unique key; the first row of the statement wins (the others
            catch unique_violation) and only it upserts the version

Workloads
  update_all  UPDATE t SET n = n + 1            (all --rows rows)
  update_one  UPDATE t SET n = n + 1 WHERE id = $1, --single-iters statements
              per sample (each committed), the variants interleaved within
              the round in blocks of --single-block statements; reported per
              statement: the mean, and the p50 of each sample's statements
              (paired per round with no trigger and the noop trigger). For
              pg_fraiseql_cache's variants, after the blocks, another
              --single-iters statements of each alone measure the worker's
              process CPU time (/proc) over the stats().batches it made (one
              session, so with wait_for_bump on one transaction per batch)
  copy        COPY --rows rows into an empty copy of the table (TRUNCATE,
              untimed, before each sample)

Connection: the standard PG* environment variables. The database must be
the one pg_fraiseql_cache's worker serves (fraiseql_cache.database).
"""

import argparse
import io
import os
import shlex
import statistics
import sys
import time

import common
from common import psycopg

SCHEMA = "bench"
TENANTS = [
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "33333333-3333-4333-8333-333333333333",
]

VARIANTS = common.VARIANTS
DEFAULT_VARIANTS = ["none", "noop", "fraiseql", "naive", "tracker"]
WORKLOADS = {
    "update_all": "UPDATE of all rows",
    "update_one": "1-row UPDATE (per statement)",
    "copy": "COPY into an empty table",
}

BASELINE_SQL = common.baseline_sql(SCHEMA)


def table_sql(name):
    return (f"CREATE TABLE {SCHEMA}.{name} ("
            " id int PRIMARY KEY, tenant_id uuid NOT NULL, label text NOT NULL, n int NOT NULL)"
            " WITH (autovacuum_enabled = false)")


def attach(conn, variant, table, domain):
    common.attach(conn, SCHEMA, variant, table, domain)


def copy_payload(rows):
    buf = io.StringIO()
    for i in range(1, rows + 1):
        buf.write(f"{i}\t{TENANTS[i % len(TENANTS)]}\tcontract row {i:08d}\t{i}\n")
    return buf.getvalue().encode()


def setup(admin, variants, rows):
    admin.execute("SET client_min_messages = warning")
    admin.execute("CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache")
    admin.execute("CREATE EXTENSION IF NOT EXISTS fraiseql_bench_noop")
    # Idempotent: forget tables of an earlier run before dropping them.
    admin.execute(f"""
        DELETE FROM fraiseql_cache.tracked_tables WHERE table_schema = '{SCHEMA}'""")
    admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    admin.execute(f"CREATE SCHEMA {SCHEMA}")
    admin.execute(BASELINE_SQL)
    for v in variants:
        for kind in ("upd", "copy"):
            t = f"{kind}_{v}"
            admin.execute(table_sql(t))
            if kind == "upd":
                admin.execute(
                    f"INSERT INTO {SCHEMA}.{t} (id, tenant_id, label, n) "
                    "SELECT i, (%s::uuid[])[1 + i %% 3], 'contract row ' || lpad(i::text, 8, '0'), i "
                    "FROM generate_series(1, %s) i", (TENANTS, rows))
            attach(admin, v, t, f"bench_{t}")
    admin.execute(f"VACUUM (ANALYZE) {SCHEMA}.statement_tracker")
    for v in variants:
        admin.execute(f"VACUUM (ANALYZE, FREEZE) {SCHEMA}.upd_{v}")
        admin.execute(f"ANALYZE {SCHEMA}.copy_{v}")


def maintenance(admin, variants):
    """Untimed, between rounds: every variant starts the round alike."""
    admin.execute(f"TRUNCATE {SCHEMA}.statement_tracker")
    for v in variants:
        admin.execute(f"VACUUM {SCHEMA}.upd_{v}")
    admin.execute(f"VACUUM {SCHEMA}.version_naive, {SCHEMA}.version_tracker")
    admin.execute("VACUUM fraiseql_cache.domain_version")
    admin.execute("CHECKPOINT")


class Runner:
    def __init__(self, args, variants):
        self.args = args
        self.payload = copy_payload(args.rows)
        self.timed = False
        # update_one, per timed round: the p50 of each variant's statements,
        # and for pg_fraiseql_cache's variants the worker's share (CPU, batches).
        self.p50 = {v: [] for v in variants}
        self.worker = {v: [] for v in variants if v.startswith("fraiseql")}
        self.conns = {}
        for v in variants:
            opts = "-c fraiseql_cache.wait_for_bump=off" if v == "fraiseql_nowait" else ""
            c = psycopg.connect(autocommit=True, options=opts, application_name=f"write_cost:{v}")
            self.conns[v] = c

    def update_all(self, v, admin):
        c = self.conns[v]
        t0 = time.perf_counter()
        c.execute(f"UPDATE {SCHEMA}.upd_{v} SET n = n + 1")
        return (time.perf_counter() - t0) * 1e3

    def _one_row(self, v, i):
        """One committed 1-row UPDATE (the same ids for every variant, spread so
        that no row is hammered); returns its seconds."""
        c = self.conns[v]
        stmt = f"UPDATE {SCHEMA}.upd_{v} SET n = n + 1 WHERE id = %s"
        t0 = time.perf_counter()
        c.execute(stmt, ((i * 7919) % self.args.rows + 1,), prepare=True)
        return time.perf_counter() - t0

    def update_one(self, order, admin):
        """A round of update_one: --single-iters statements per variant, in
        blocks of --single-block, the variants' blocks round-robin (start
        rotated per block), so that every variant sees the same phases of
        the disk and of the neighbours. After a wait_for_bump = off block the
        worker is let finish (untimed) before the next variant's block.
        Returns {variant: mean ms per statement}."""
        k, blk = self.args.single_iters, self.args.single_block
        lat = {v: [] for v in order}
        for b, start in enumerate(range(0, k, blk)):
            for v in common.rotated(order, b):
                for i in range(start, min(start + blk, k)):
                    lat[v].append(self._one_row(v, i))
                if v == "fraiseql_nowait":
                    common.wait_idle(admin)
        if self.timed:
            for v in order:
                self.p50[v].append(statistics.median(lat[v]) * 1e3)
            for v in order:
                if v in self.worker:
                    self.worker[v].append(self.worker_share(v, admin))
        return {v: sum(lat[v]) * 1e3 / k for v in order}

    def worker_share(self, v, admin):
        """The worker's process CPU and batches for --single-iters 1-row
        UPDATEs of variant v alone, one session (untimed statements)."""
        s0 = common.stats(admin)
        cpu0 = common.process_cpu_seconds(s0["worker_pid"])
        for i in range(self.args.single_iters):
            self._one_row(v, i)
        common.wait_idle(admin)   # wait_for_bump = off: the worker may still be at it
        s1 = common.stats(admin)
        cpu1 = common.process_cpu_seconds(s1["worker_pid"])
        d = {key: s1[key] - s0[key] for key in ("batches", "transactions", "bumps")}
        d["cpu_s"] = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None \
            and s0["worker_pid"] == s1["worker_pid"] else None
        return d

    def copy(self, v, admin):
        admin.execute(f"TRUNCATE {SCHEMA}.copy_{v}")
        c = self.conns[v]
        cur = c.cursor()
        t0 = time.perf_counter()
        with cur.copy(f"COPY {SCHEMA}.copy_{v} (id, tenant_id, label, n) FROM STDIN") as cp:
            cp.write(self.payload)
        return (time.perf_counter() - t0) * 1e3


def fmt_ms(x):
    if x >= 100:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def report(results, variants, workloads, args, runner):
    out = []
    for w in workloads:
        unit = "ms per statement" if w == "update_one" else "ms per statement (incl. commit)"
        n = args.single_iters if w == "update_one" else args.rows
        label = (f"{WORKLOADS[w]}: {args.single_iters} committed 1-row UPDATEs per sample, "
                 f"variants interleaved in blocks of {args.single_block}"
                 if w == "update_one" else f"{WORKLOADS[w]}, {n} rows, one committed statement")
        out.append(f"### {w} — {label}\n")
        out.append(f"{len(results[w][variants[0]])} samples per variant; {unit}.\n")
        out.append("| variant | median ms | min ms | max ms | × no trigger | × noop C trigger |")
        out.append("|---|---:|---:|---:|---:|---:|")
        med = {v: statistics.median(results[w][v]) for v in variants}
        for v in variants:
            s = results[w][v]
            r_none = f"{med[v] / med['none']:.2f}" if "none" in med else "–"
            r_noop = f"{med[v] / med['noop']:.2f}" if "noop" in med else "–"
            out.append(f"| {VARIANTS[v]} | {fmt_ms(med[v])} | {fmt_ms(min(s))} | "
                       f"{fmt_ms(max(s))} | {r_none} | {r_noop} |")
        out.append("")
        if w == "update_one":
            out.append(update_one_p50(runner, variants))
    return "\n".join(out)


def paired(a, b, op):
    """Per round: op(this variant's figure, the baseline's of the same round)."""
    return common.summary([op(x, y) for x, y in zip(a, b)]) if a and b else None


def update_one_figures(runner, variants):
    """update_one's p50 figures and the worker's CPU per batch, for the JSON."""
    p50 = {v: common.summary(runner.p50[v]) for v in variants if runner.p50[v]}
    pr = {}
    for v in variants:
        e = {}
        if "none" in runner.p50:
            e["minus_none_ms"] = paired(runner.p50[v], runner.p50["none"], lambda x, y: x - y)
            e["x_none"] = paired(runner.p50[v], runner.p50["none"], lambda x, y: x / y)
        if "noop" in runner.p50:
            e["x_noop"] = paired(runner.p50[v], runner.p50["noop"], lambda x, y: x / y)
        pr[v] = e
    cpu = {}
    for v, runs in runner.worker.items():
        ok = [d for d in runs if d["cpu_s"] is not None and d["batches"]]
        if not ok:
            cpu[v] = None
            continue
        tot = {key: sum(d[key] for d in ok) for key in ("cpu_s", "batches", "transactions",
                                                          "bumps")}
        cpu[v] = {"us_per_batch": tot["cpu_s"] * 1e6 / tot["batches"],
                  "per_round_us_per_batch": common.summary(
                      [d["cpu_s"] * 1e6 / d["batches"] for d in ok]),
                  "xacts_per_batch": tot["transactions"] / tot["batches"],
                  "bumps_per_batch": tot["bumps"] / tot["batches"],
                  "rounds": len(ok), **tot}
    return {"p50": p50, "paired": pr, "worker_cpu": cpu}


def update_one_p50(runner, variants):
    f = update_one_figures(runner, variants)
    out = [f"p50 of each sample's {runner.args.single_iters} statements (client-side, "
           "COMMIT returned), then the median [min – max] over the rounds; the differences "
           "and ratios are paired, each round's p50 against the same round's baseline.\n"]
    rows = []
    for v in variants:
        s, e = f["p50"].get(v), f["paired"].get(v, {})
        if not s:
            continue

        def cell(key, fmt):
            x = e.get(key)
            return f"{fmt(x['median'])} [{fmt(x['min'])} – {fmt(x['max'])}]" if x else "–"
        rows.append([VARIANTS[v], fmt_ms(s["median"]), f"{fmt_ms(s['min'])} – {fmt_ms(s['max'])}",
                     cell("minus_none_ms", lambda x: f"{x:+.3f}"),
                     cell("x_noop", lambda x: f"{x:.2f}")])
    out.append(common.table(["variant", "p50 ms, median", "[min – max]",
                             "− no trigger, ms (per round)", "× noop C trigger (per round)"],
                            rows))
    out.append("")
    for v, w in f["worker_cpu"].items():
        if w is None:
            out.append(f"- {VARIANTS[v]}: worker CPU per batch not measurable (no /proc access "
                       "to the worker, or no batches).")
            continue
        pr = w["per_round_us_per_batch"]
        out.append(f"- {VARIANTS[v]}: the worker's process CPU time (/proc, {w['cpu_s']:.2f} s) "
                   f"over its {w['batches']:,} batches for {runner.args.single_iters} more "
                   "1-row UPDATEs of this variant alone per round = "
                   f"**{w['us_per_batch']:.0f} µs per batch** (per round {pr['median']:.0f} "
                   f"[{pr['min']:.0f} – {pr['max']:.0f}]; /proc counts in clock ticks of "
                   f"{1e3 / os.sysconf('SC_CLK_TCK'):.0f} ms); {w['xacts_per_batch']:.2f} "
                   f"transactions and {w['bumps_per_batch']:.2f} pair bumps per batch.")
    out.append("")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--rounds", type=int, default=10, help="timed rounds (default 10)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    p.add_argument("--rows", type=int, default=10000, help="rows per table (default 10000)")
    p.add_argument("--single-iters", type=int, default=500,
                   help="1-row UPDATEs per update_one sample (default 500)")
    p.add_argument("--single-block", type=int, default=50,
                   help="update_one statements a variant runs before the next variant's "
                        "(default 50)")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                   help=f"comma-separated, from {','.join(VARIANTS)} (default %(default)s)")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help="comma-separated (default %(default)s)")
    p.add_argument("--json", help="write the medians (ms) here")
    p.add_argument("--no-setup", action="store_true",
                   help="reuse the tables of an earlier run (default: recreate them)")
    args = p.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for v in variants:
        if v not in VARIANTS:
            p.error(f"unknown variant {v!r}")
    for w in workloads:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r}")
    if args.rounds < 1 or args.rows < 3 or args.single_iters < 1 or args.single_block < 1:
        p.error("--rounds, --single-iters, --single-block must be >= 1 and --rows >= 3")

    shown = []
    skip = False
    for a in sys.argv[1:]:  # --json FILE is plumbing, not part of the measurement
        if skip:
            skip = False
        elif a == "--json":
            skip = True
        elif not a.startswith("--json="):
            shown.append(a)
    command = " ".join(shlex.quote(a) for a in ["bench/write_cost.py"] + shown)
    env = " ".join(f"{k}={shlex.quote(os.environ[k])}"
                   for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE") if k in os.environ)

    admin = psycopg.connect(autocommit=True, application_name="write_cost:admin")
    server = admin.execute("SELECT version()").fetchone()[0]
    settings = admin.execute(
        "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) "
        "FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', "
        "'wal_level', 'max_wal_size', 'checkpoint_timeout', 'fraiseql_cache.wait_for_bump', "
        "'fraiseql_cache.enabled', 'fraiseql_cache.notify', 'jit')").fetchone()[0]
    if not args.no_setup:
        print(f"setting up {len(variants)} variants × {args.rows} rows ...", file=sys.stderr)
        setup(admin, variants, args.rows)
    runner = Runner(args, variants)
    results = {w: {v: [] for v in variants} for w in workloads}

    total = args.warmup + args.rounds
    started = time.time()
    for r in range(total):
        timed = r >= args.warmup
        # Round-robin, the starting variant rotated each round.
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        runner.timed = timed
        for w in workloads:
            fn = getattr(runner, w)
            if w == "update_one":   # interleaved within the round, in blocks
                for v, ms in fn(order, admin).items():
                    if timed:
                        results[w][v].append(ms)
                continue
            for v in order:
                ms = fn(v, admin)
                if timed:
                    results[w][v].append(ms)
        maintenance(admin, variants)
        tag = f"round {r - args.warmup + 1}/{args.rounds}" if timed else f"warm-up {r + 1}/{args.warmup}"
        print(f"{tag} done ({time.time() - started:.0f}s)", file=sys.stderr)

    print("## Write cost per variant\n")
    print(f"Command: `{env + ' ' if env else ''}{command}`\n")
    print(f"Server: {server}  ")
    print(f"Settings: {settings}  ")
    print(f"Rounds: {args.rounds} timed (+{args.warmup} warm-up), variants interleaved "
          f"round-robin with the start rotated each round; VACUUM + CHECKPOINT between rounds; "
          f"every statement its own committed transaction; client-side wall time. "
          f"Run time {time.time() - started:.0f}s.\n")
    print(report(results, variants, workloads, args, runner))
    figures = {w: {v: common.summary(results[w][v]) for v in variants} for w in workloads}
    if "update_one" in workloads:
        figures["update_one_stats"] = update_one_figures(runner, variants)
    common.write_json(args.json, figures)


if __name__ == "__main__":
    main()
