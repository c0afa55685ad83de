"""Test 6: a hot standby answers current_version() from shared memory, kept
equal to what it has replayed, through every way versions move.

After each step below, once the standby has replayed a WAL position taken on
the primary after the step, every pair (the tenants, a tenant never written,
the all-tenants pair, a global domain) reads the same on both nodes, and a
loop of calls on the standby reads no table (stats().table_reads unchanged):
  a. writes (per-batch WAL records);
  b. TRUNCATE (a domain floor: the never-written tenant moves too);
  c. a new global domain, written;
  d. the standby restarted (the loader reads the replayed tables);
  e. the primary stopped with -m immediate and started (an unclean stop: the
     primary raises every version; the standby must follow the raise).
"""
import uuid

from checks import report
from cluster import ALL_TENANTS

NEVER_WRITTEN = str(uuid.UUID(int=0xABCDEF))
GLOBAL_SQL = """
CREATE TABLE tv_setting (key text PRIMARY KEY, value text NOT NULL);
SELECT fraiseql_cache.setup_table_invalidation('tv_setting', domain => 'setting');
"""


def versions(node, pairs):
    with node.connect() as c:
        return {p: c.execute("SELECT fraiseql_cache.current_version(%s, %s)", p).fetchone()[0]
                for p in pairs}


def table_reads(c):
    return c.execute("SELECT table_reads FROM fraiseql_cache.stats()").fetchone()[0]


def check_step(label, primary, standby, pairs, failures):
    # What the primary published before the position the standby must reach.
    on_primary = versions(primary, pairs)
    standby.wait_for_replay(primary.flushed_lsn())
    standby.poll_query("SELECT serving FROM fraiseql_cache.stats()")
    on_standby = versions(standby, pairs)
    differ = [(p, on_primary[p], on_standby[p]) for p in pairs if on_primary[p] != on_standby[p]]
    with standby.connect() as c:
        before = table_reads(c)
        for _ in range(200):
            for p in pairs:
                c.execute("SELECT fraiseql_cache.current_version(%s, %s)", p, prepare=True)
        read_tables = table_reads(c) - before
    print(f"  {label}: {len(pairs)} pairs, {len(differ)} differ from the primary; "
          f"table reads on the standby for {200 * len(pairs)} calls: {read_tables}", flush=True)
    for p, a, b in differ[:4]:
        print(f"    {p}: primary {a}, standby {b}")
    if differ:
        print("    primary stats (wait_timeouts, stalled_waits, batches): " + primary.scalar(
            "SELECT row(wait_timeouts, stalled_waits, batches)::text FROM fraiseql_cache.stats()"))
    if differ:
        failures.append(f"{label}: {len(differ)} pairs differ")
    if read_tables:
        failures.append(f"{label}: the standby read its tables {read_tables} times")
    return on_primary


def run(ctx, primary, standby, tenants):
    name = "6 the standby serves from shared memory, following replay"
    print(f"--- test {name}", flush=True)
    pairs = [(t, "contract") for t in tenants + [NEVER_WRITTEN, ALL_TENANTS]]
    failures = []
    with primary.connect() as c:
        for i in range(20):
            c.execute("UPDATE tv_contract SET seq = seq + 1 WHERE tenant_id = %s",
                      (tenants[i % len(tenants)],))
    check_step("a writes", primary, standby, pairs, failures)

    before = versions(primary, pairs)
    primary.query("TRUNCATE tv_contract")
    after = check_step("b TRUNCATE", primary, standby, pairs, failures)
    if after[(NEVER_WRITTEN, "contract")] <= before[(NEVER_WRITTEN, "contract")]:
        failures.append("b: TRUNCATE did not move the never-written tenant")

    primary.query(GLOBAL_SQL)
    primary.query("INSERT INTO tv_setting VALUES ('a', 'b')")
    pairs += [(tenants[0], "setting"), (NEVER_WRITTEN, "setting"), (ALL_TENANTS, "setting")]
    check_step("c global domain", primary, standby, pairs, failures)

    standby.stop()
    with primary.connect() as c:
        for t in tenants:
            c.execute("INSERT INTO tv_contract (id, tenant_id, name) "
                      "SELECT coalesce(max(id), 0) + 1, %s, 'x' FROM tv_contract", (t,))
    standby.start()
    standby.poll_query("SELECT serving FROM fraiseql_cache.stats()")
    check_step("d standby restarted", primary, standby, pairs, failures)

    before = versions(primary, pairs)
    primary.stop("immediate")
    primary.start()
    primary.wait_serving()
    after = check_step("e primary stopped unclean, started", primary, standby, pairs, failures)
    not_raised = [p for p in pairs if after[p] <= before[p]]
    if not_raised:
        failures.append(f"e: {len(not_raised)} pairs not raised by the unclean stop")
    if failures:
        return report(name, False, "; ".join(failures))
    return report(name, True)
