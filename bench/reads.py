#!/usr/bin/python3
"""Reads: current_version() / current_versions() against a primary-key lookup.

In the server: one statement calls the reader --calls times for a fixed
tenant whose versions are in shared memory,

    SELECT count(fraiseql_cache.current_version(t, 'rd_contract'))
      FROM generate_series(1, N) g

against the same loop shape with a scalar-subquery primary-key lookup in
fraiseql_cache.domain_version (correlated through `g IS NOT NULL`, so the
index scan runs for every row instead of once as an InitPlan), and an empty
loop (`count(g)`) whose time is the loop's own overhead. Reported per call:
raw (statement time / N) and net (minus the empty loop's time / N). The
five-domain figures compare current_versions(t, 5 domains) with the lookup
FraiseQL's PostgresCache issues (`domain = ANY($2)`).

End to end: `pgbench -M prepared` runs one statement per transaction:
SELECT 1; the primary-key lookup; current_version(); current_versions() of
5 domains; and the 5-domain `ANY` lookup. TPS per run, runs round-robin.

This measures; it never passes or fails on time.
"""

import argparse
import sys
import time

import common as c

SCHEMA = "bench_reads"
DOMAINS = ["rd_contract", "rd_item", "rd_customer", "rd_invoice", "rd_order"]
TENANT = c.tenant_uuid(0xBEEF)

LOOPS = {
    "empty": ("empty loop", "SELECT count(g) FROM generate_series(1, {n}) g"),
    "current_version": (
        "current_version()",
        "SELECT count(fraiseql_cache.current_version('{t}'::uuid, 'rd_contract')) "
        "FROM generate_series(1, {n}) g"),
    "pk": (
        "PK lookup in domain_version",
        "SELECT count((SELECT dv.version FROM fraiseql_cache.domain_version dv "
        "WHERE dv.tenant_id = '{t}'::uuid AND dv.domain = 'rd_contract' AND g IS NOT NULL)) "
        "FROM generate_series(1, {n}) g"),
    "current_versions5": (
        "current_versions(), 5 domains",
        "SELECT count(fraiseql_cache.current_versions('{t}'::uuid, '{{{d}}}'::text[])) "
        "FROM generate_series(1, {n}) g"),
    "pk5": (
        "PK lookup, domain = ANY(5 domains)",
        "SELECT count((SELECT array_agg(dv.version) FROM fraiseql_cache.domain_version dv "
        "WHERE dv.tenant_id = '{t}'::uuid AND dv.domain = ANY('{{{d}}}'::text[]) "
        "AND g IS NOT NULL)) FROM generate_series(1, {n}) g"),
}

E2E = {
    "select1": ("SELECT 1", "SELECT 1;\n"),
    "pk": ("PK lookup in domain_version",
           "SELECT version FROM fraiseql_cache.domain_version "
           "WHERE tenant_id = '{t}'::uuid AND domain = 'rd_contract';\n"),
    "current_version": ("current_version()",
                        "SELECT fraiseql_cache.current_version('{t}'::uuid, 'rd_contract');\n"),
    "current_versions5": ("current_versions(), 5 domains",
                          "SELECT fraiseql_cache.current_versions('{t}'::uuid, '{{{d}}}'::text[]);\n"),
    "pk5": ("PK lookup, domain = ANY(5 domains)",
            "SELECT domain, version FROM fraiseql_cache.domain_version "
            "WHERE tenant_id = '{t}'::uuid AND domain = ANY('{{{d}}}'::text[]);\n"),
}


def setup(admin):
    c.prepare_extensions(admin)
    c.reset_schema(admin, SCHEMA)
    for d in DOMAINS:
        t = f"tv_{d}"
        admin.execute(f"CREATE TABLE {SCHEMA}.{t} (id int PRIMARY KEY, tenant_id uuid NOT NULL, "
                      "n int NOT NULL)")
        admin.execute("SELECT fraiseql_cache.setup_table_invalidation(%s, %s)",
                      (f"{SCHEMA}.{t}", d))
        # A committed write: the tenant's pair now has a version in shared
        # memory and a row in domain_version.
        admin.execute(f"INSERT INTO {SCHEMA}.{t} VALUES (1, %s, 0)", (TENANT,))
    c.wait_idle(admin)
    admin.execute("VACUUM ANALYZE fraiseql_cache.domain_version")
    got = admin.execute("SELECT fraiseql_cache.current_versions(%s, %s)",
                        (TENANT, DOMAINS)).fetchone()[0]
    want = admin.execute("SELECT array_agg(version ORDER BY array_position(%s, domain)) "
                         "FROM fraiseql_cache.domain_version WHERE tenant_id = %s "
                         "AND domain = ANY(%s)", (DOMAINS, TENANT, DOMAINS)).fetchone()[0]
    if got != want or len(got) != len(DOMAINS):
        raise RuntimeError(f"current_versions {got} != domain_version {want}")
    if admin.execute("SELECT table_reads FROM fraiseql_cache.stats()").fetchone()[0] is None:
        raise RuntimeError("stats() without table_reads")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--calls", type=int, default=200000, help="calls per in-server loop")
    p.add_argument("--loop-rounds", type=int, default=15,
                   help="in-server loop samples per variant (default 15)")
    p.add_argument("--seconds", type=int, default=2, help="pgbench -T per run (default 2)")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="write the medians here")
    args = p.parse_args()

    admin = c.connect("reads:admin")
    c.progress("reads: setting up")
    setup(admin)
    fmt = {"t": TENANT, "d": ",".join(DOMAINS)}
    started = time.time()

    # In the server.
    conn = c.connect("reads:loop")
    conn.execute("SET jit = off")  # the loops are too short for JIT to pay off
    st0 = c.stats(admin)
    names = list(LOOPS)
    loop_ms = {k: [] for k in names}
    for r in range(1 + args.loop_rounds):
        for k in c.rotated(names, r):
            sql = LOOPS[k][1].format(n=args.calls, **fmt)
            t0 = time.perf_counter()
            n = conn.execute(sql).fetchone()[0]
            ms = (time.perf_counter() - t0) * 1e3
            if n != args.calls:
                raise RuntimeError(f"{k}: counted {n}")
            if r > 0:
                loop_ms[k].append(ms)
    st1 = c.stats(admin)
    if st1["table_reads"] != st0["table_reads"]:
        c.progress("reads: WARNING: current_version() read domain_version "
                   f"({st1['table_reads'] - st0['table_reads']} times): not the shared-memory path")
    c.progress(f"reads: in-server loops done ({time.time() - started:.0f}s)")

    loops = {}
    empty = [ms * 1e6 / args.calls for ms in loop_ms["empty"]]
    empty_med = c.summary(empty)["median"]
    for k in names:
        raw = [ms * 1e6 / args.calls for ms in loop_ms[k]]
        loops[k] = {"raw": c.summary(raw)}
        # Net: each sample minus the median empty loop.
        loops[k]["net"] = c.summary([x - empty_med for x in raw])

    # End to end.
    e2e_names = list(E2E)
    tps = {k: [] for k in e2e_names}
    for r in range(1 + args.rounds):
        for k in c.rotated(e2e_names, r):
            t, _, _ = c.pgbench(E2E[k][1].format(**fmt), args.clients, args.threads,
                                args.seconds if r > 0 else 1, name=f"reads:{k}")
            if r > 0:
                tps[k].append(t)
        c.progress(f"reads: pgbench round {r}/{args.rounds} ({time.time() - started:.0f}s)")
    e2e = {k: c.summary(tps[k]) for k in e2e_names}
    # Paired: each round's TPS over the same round's SELECT 1.
    paired = {k: c.summary([a / b for a, b in zip(tps[k], tps["select1"])]) for k in e2e_names}

    print("## Reads\n")
    print(f"### In the server: ns per call, {args.calls:,} calls per statement\n")
    print(f"{args.loop_rounds} samples per variant (+1 warm-up round), round-robin; "
          "client-side time of the whole statement divided by the calls; *net* subtracts "
          "the empty loop's median; `jit = off` for these statements. Tenant fixed, its "
          "versions in shared memory "
          "(stats().table_reads unchanged during the loops: "
          f"{'yes' if st1['table_reads'] == st0['table_reads'] else 'NO'}).\n")
    rows = []
    for k in names:
        raw, net = loops[k]["raw"], loops[k]["net"]
        if k == "empty":
            rows.append([LOOPS[k][0], c.num(raw["median"]), c.num(raw["min"]), c.num(raw["max"]),
                         "–", "–", "–"])
            continue
        base = "pk" if k in ("current_version", "pk") else "pk5"
        rows.append([LOOPS[k][0], c.num(raw["median"]), c.num(raw["min"]), c.num(raw["max"]),
                     c.num(net["median"]), c.ratio(raw["median"], loops[base]["raw"]["median"]),
                     c.ratio(net["median"], loops[base]["net"]["median"])])
    print(c.table(["per call", "raw ns median", "raw min", "raw max", "net ns median",
                   "time × PK lookup (raw)", "time × PK lookup (net)"], rows))
    print("\n(time × PK lookup: this row's time per call over the lookup's, lower is faster; "
          "the 5-domain rows against the 5-domain lookup.)")
    cv, pk = loops["current_version"]["net"]["median"], loops["pk"]["net"]["median"]
    cv5, pk5 = loops["current_versions5"]["net"]["median"], loops["pk5"]["net"]["median"]
    print(f"\ncurrent_version() is **{pk / cv:.1f}x** faster per call than the PK lookup net "
          f"of the loop ({loops['pk']['raw']['median'] / loops['current_version']['raw']['median']:.1f}x "
          f"with the loop's overhead); current_versions() of 5 domains "
          f"**{pk5 / cv5:.1f}x** faster than the 5-domain lookup.\n")

    print(f"### End to end: pgbench -M prepared, {args.clients} clients, {args.threads} threads, "
          f"{args.seconds} s per run\n")
    print(f"{args.rounds} runs per statement (+1 warm-up round of 1 s), round-robin; one statement per "
          "transaction.\n")
    rows = []
    for k in e2e_names:
        s = e2e[k]
        base5 = e2e["pk5"]["median"] if k in ("current_versions5", "pk5") else e2e["pk"]["median"]
        pr = paired[k]
        rows.append([E2E[k][0], c.num(s["median"]), c.num(s["min"]), c.num(s["max"]),
                     c.ratio(s["median"], e2e["select1"]["median"]),
                     c.ratio(s["median"], base5) if k != "select1" else "–",
                     f"{pr['median']:.2f} [{pr['min']:.2f} – {pr['max']:.2f}]"])
    print(c.table(["statement", "median TPS", "min TPS", "max TPS", "× SELECT 1",
                   "× PK lookup", "per-round × SELECT 1, median [min – max]"], rows))
    print(f"\n(× PK lookup: the 5-domain rows against the 5-domain lookup.) "
          f"Run time {time.time() - started:.0f}s.\n")
    c.write_json(args.json, {"loop_ns": loops, "e2e_tps": e2e, "e2e_paired": paired,
                             "calls": args.calls})


if __name__ == "__main__":
    sys.exit(main())
