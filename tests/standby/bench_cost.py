"""Test 5 (a measurement, nothing asserted on time): the cost of one
current_version() call on the standby and on the primary, side by side in one
run: a PL/pgSQL loop timed with clock_timestamp(), median of RUNS runs each,
the runs alternating between the two nodes. For reference, the same loop on
the standby reading the replayed domain_version row directly (a cached plan)."""
import statistics

from checks import report

CALLS = 20000
RUNS = 5

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION standby_bench_current_version(n int, t uuid)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    v bigint;
BEGIN
    started := clock_timestamp();
    FOR i IN 1..n LOOP
        v := fraiseql_cache.current_version(t, 'contract');
    END LOOP;
    RETURN extract(epoch FROM clock_timestamp() - started) * 1e6 / n;
END
$$;
CREATE OR REPLACE FUNCTION standby_bench_table_read(n int, t uuid)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    v bigint;
BEGIN
    started := clock_timestamp();
    FOR i IN 1..n LOOP
        SELECT version INTO v FROM fraiseql_cache.domain_version
         WHERE tenant_id = t AND domain = 'contract';
    END LOOP;
    RETURN extract(epoch FROM clock_timestamp() - started) * 1e6 / n;
END
$$;
"""


def run(ctx, primary, standby, tenants):
    name = "5 cost of current_version() on the standby vs the primary (measurement)"
    print(f"--- test {name}", flush=True)
    primary.query(FUNCTION_SQL)
    standby.wait_for_replay(primary.flushed_lsn())
    cv = "SELECT standby_bench_current_version(%s, %s)"
    table = "SELECT standby_bench_table_read(%s, %s)"
    # label: (node, loop)
    cases = {"primary": (primary, cv), "standby": (standby, cv),
             "standby, domain_version read directly": (standby, table)}
    times = {k: [] for k in cases}
    conns = {k: node.connect() for k, (node, _) in cases.items()}
    try:
        for k, (_, sql) in cases.items():  # warm-up: plans and caches
            conns[k].execute(sql, (1000, tenants[0]))
        for _ in range(RUNS):
            for k, (_, sql) in cases.items():
                times[k].append(conns[k].execute(sql, (CALLS, tenants[0])).fetchone()[0])
    finally:
        for c in conns.values():
            c.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in cases:
        print(f"  {k}: median {med[k]:.3f} us per call over {CALLS} calls "
              f"(runs: {', '.join(f'{x:.3f}' for x in times[k])})")

    def ratio(a, b):
        return med[a] / med[b] if med[b] > 0 else float("inf")
    print(f"  current_version() standby / primary: {ratio('standby', 'primary'):.1f}x; "
          f"standby current_version() / direct table read: "
          f"{ratio('standby', 'standby, domain_version read directly'):.1f}x")
    ok = all(len(v) == RUNS and all(x > 0 for x in v) for v in times.values())
    return report(name, ok, "a run returned no time")
