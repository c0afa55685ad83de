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
              per sample (each committed), reported per statement
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

    def update_one(self, v, admin):
        c = self.conns[v]
        k = self.args.single_iters
        rows = self.args.rows
        # The same ids for every variant; spread so no row is hammered.
        stmt = f"UPDATE {SCHEMA}.upd_{v} SET n = n + 1 WHERE id = %s"
        cur = c.cursor()
        t0 = time.perf_counter()
        for i in range(k):
            cur.execute(stmt, ((i * 7919) % rows + 1,), prepare=True)
        return (time.perf_counter() - t0) * 1e3 / k

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


def report(results, variants, workloads, args):
    out = []
    for w in workloads:
        unit = "ms per statement" if w == "update_one" else "ms per statement (incl. commit)"
        n = args.single_iters if w == "update_one" else args.rows
        label = (f"{WORKLOADS[w]}: {args.single_iters} committed 1-row UPDATEs per sample"
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
    if args.rounds < 1 or args.rows < 3 or args.single_iters < 1:
        p.error("--rounds, --single-iters must be >= 1 and --rows >= 3")

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
        for w in workloads:
            fn = getattr(runner, w)
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
    print(report(results, variants, workloads, args))
    common.write_json(args.json, {w: {v: common.summary(results[w][v]) for v in variants}
                                  for w in workloads})


if __name__ == "__main__":
    main()
