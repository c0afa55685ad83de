#!/usr/bin/python3
"""10k-row UPDATE: no trigger, a no-op C trigger, pg_fraiseql_cache, side by
side in ONE session (one connection), rounds interleaved. Prints medians,
min, max and ratios. Measures; never passes or fails.

    bench/trigger_one_session.py [--rounds 15] [--rows 10000]

Needs PG* variables, the extension and fraiseql_bench_noop installed
(scripts/benchmark.sh builds both).
"""
import argparse
import statistics
import time

import psycopg

VARIANTS = [("none", "no trigger"), ("noop", "no-op C trigger"), ("fc", "pg_fraiseql_cache")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--rows", type=int, default=10000)
    args = ap.parse_args()
    with psycopg.connect(autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache")
        c.execute("CREATE EXTENSION IF NOT EXISTS fraiseql_bench_noop")
        for v, _ in VARIANTS:
            t = f"bench_one_{v}"
            c.execute(f"DROP TABLE IF EXISTS {t}")
            c.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, tenant_id uuid NOT NULL, "
                      f"label text NOT NULL, n int NOT NULL) WITH (autovacuum_enabled = off)")
            c.execute(f"INSERT INTO {t} SELECT g, ('00000000-0000-0000-0000-00000000000' || "
                      f"(g % 3 + 1))::uuid, 'row ' || g, 0 FROM generate_series(1, {args.rows}) g")
        c.execute("CREATE TRIGGER noop BEFORE INSERT OR UPDATE OR DELETE ON bench_one_noop "
                  "FOR EACH ROW EXECUTE FUNCTION fraiseql_bench_noop.noop_row()")
        c.execute("SELECT fraiseql_cache.setup_table_invalidation('bench_one_fc', 'bench_one')")
        samples = {v: [] for v, _ in VARIANTS}
        for r in range(args.rounds + 1):  # round 0 warms up
            order = VARIANTS[r % 3:] + VARIANTS[:r % 3]
            for v, _ in order:
                c.execute(f"VACUUM bench_one_{v}")
            for v, _ in order:
                t0 = time.perf_counter()
                c.execute(f"UPDATE bench_one_{v} SET n = n + 1")  # autocommit: one transaction
                ms = (time.perf_counter() - t0) * 1000
                if r > 0:
                    samples[v].append(ms)
        med = {v: statistics.median(s) for v, s in samples.items()}
        print(f"10k-row UPDATE, one session, {args.rounds} rounds interleaved "
              f"(ms per committed statement)\n")
        print("| variant | median | min | max | × no trigger | × no-op C trigger |")
        print("|---|---:|---:|---:|---:|---:|")
        for v, name in VARIANTS:
            s = samples[v]
            print(f"| {name} | {med[v]:.2f} | {min(s):.2f} | {max(s):.2f} | "
                  f"{med[v] / med['none']:.3f} | {med[v] / med['noop']:.3f} |")
        for v, _ in VARIANTS:
            c.execute(f"DROP TABLE bench_one_{v}")


if __name__ == "__main__":
    main()
