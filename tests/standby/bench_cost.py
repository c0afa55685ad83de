"""Test 5 (a measurement, nothing asserted on time): the cost of one
current_version() call on the standby and on the primary, side by side in one
run: a PL/pgSQL loop timed with clock_timestamp(), median of RUNS runs each,
the runs alternating between the two nodes."""
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
"""


def run(ctx, primary, standby, tenants):
    name = "5 cost of current_version() on the standby vs the primary (measurement)"
    print(f"--- test {name}", flush=True)
    primary.query(FUNCTION_SQL)
    standby.wait_for_replay(primary.flushed_lsn())
    times = {"primary": [], "standby": []}
    nodes = {"primary": primary, "standby": standby}
    sql = "SELECT standby_bench_current_version(%s, %s)"
    conns = {k: n.connect() for k, n in nodes.items()}
    try:
        for k in nodes:  # warm-up: plans and caches
            conns[k].execute(sql, (1000, tenants[0]))
        for _ in range(RUNS):
            for k in nodes:
                times[k].append(conns[k].execute(sql, (CALLS, tenants[0])).fetchone()[0])
    finally:
        for c in conns.values():
            c.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in nodes:
        print(f"  {k}: median {med[k]:.3f} us per call over {CALLS} calls "
              f"(runs: {', '.join(f'{x:.3f}' for x in times[k])})")
    ratio = med["standby"] / med["primary"] if med["primary"] > 0 else float("inf")
    print(f"  standby / primary: {ratio:.1f}x")
    ok = all(len(v) == RUNS and all(x > 0 for x in v) for v in times.values())
    return report(name, ok, "a run returned no time")
