"""Tests 2 and 3: after promotion of a standby, every version the promoted
node shows is above every version the old primary ever showed, for every pair.

Test 2 cuts the standby off (stops it) while writers keep committing on the
primary, so it falls far behind; test 3 runs under synchronous replication
with no cut-off. Both then stop the primary with `-m immediate` while writers
run, start/promote the standby, write on it, and compare. What the old
primary showed is everything announced on its NOTIFY channel and everything
read from its domain_version and current_version() while it ran.
"""
import os
import time

from checks import check_raised, notifications_heard, report, thread_errors
from topology import primary_and_standby
from workload import (Listener, Poller, VersionLog, Writer, read_versions, start_all, stop_all,
                      write_until)

# The cut-off lasts until the writers made CUT_COMMITS commits (each one bumps
# the all-tenants pair, and a third of them each tenant pair), within bounds.
CUT_COMMITS = int(os.environ.get("FRAISEQL_STANDBY_CUT_COMMITS", "45000"))
CUT_MIN_SECONDS = 20
CUT_MAX_SECONDS = 40
FOLLOW_SECONDS = 3
SYNC_SECONDS = 8
AFTER_SECONDS = 3
WRITERS = 4
TENANTS = 3
# Test 2's writers commit without waiting for fsync or for the bump: more
# commits per second, so the standby falls further behind.
CUT_SETTINGS = Writer.FAST


def watch(node, tenants, log):
    return [Listener(node, log), Poller(node, tenants, log)]


def writes_on_promoted(node, tenants):
    """Watches the promoted node while it takes new writes; returns its log."""
    after = VersionLog()
    with node.connect() as c:
        for t, d, v in read_versions(c, tenants):  # the first answers, before any write
            after.see(t, d, v)
    threads = watch(node, tenants, after) + [Writer(node, tenants, seed=50 + i)
                                             for i in range(2)]
    start_all(threads)
    time.sleep(AFTER_SECONDS)
    stop_all(threads)
    with node.connect() as c:
        for t, d, v in read_versions(c, tenants):
            after.see(t, d, v)
    commits = sum(t.total() for t in threads if isinstance(t, Writer))
    return after, commits, thread_errors(threads)


def promote_and_check(name, primary, standby, tenants, threads, before):
    primary_lsn = primary.scalar("SELECT pg_current_wal_lsn()::text")
    primary.stop("immediate")
    stop_all(threads)
    errors = thread_errors(threads, expected_loss=True) + notifications_heard(threads)
    writers = [t for t in threads if isinstance(t, Writer)]
    if not standby.is_running():
        standby.start()
    replayed = standby.replay_lsn()
    lag = standby.scalar("SELECT %s::pg_lsn - %s::pg_lsn", (primary_lsn, replayed))
    print(f"  old primary's WAL position read just before its stop {primary_lsn}; standby "
          f"replayed {replayed} (difference {lag} bytes)")
    print(f"  commits on the old primary per tenant: "
          f"{', '.join(str(sum(w.commits[t] for w in writers)) for t in tenants)}")
    started = time.monotonic()
    standby.promote()
    serving = standby.wait_serving()
    print(f"  promoted; serving {serving:.2f}s after promotion "
          f"({time.monotonic() - started:.2f}s in all)")
    after, commits, after_errors = writes_on_promoted(standby, tenants)
    print(f"  {commits} commits on the promoted node in {AFTER_SECONDS}s")
    errors += after_errors + check_raised(before, after, tenants)
    return report(name, not errors, "; ".join(errors))


def run_cut_off(ctx):
    name = "2 promotion of a standby cut off while writers ran"
    print(f"--- test {name}", flush=True)
    primary, standby, tenants = primary_and_standby(ctx, "cut", TENANTS)
    before = VersionLog()
    threads = watch(primary, tenants, before) + [
        Writer(primary, tenants, seed=i, settings=CUT_SETTINGS) for i in range(WRITERS)]
    start_all(threads)
    time.sleep(FOLLOW_SECONDS)
    writers = [t for t in threads if isinstance(t, Writer)]
    at_cut = {t: sum(w.commits[t] for w in writers) for t in tenants}
    standby.stop("fast")
    print(f"  standby stopped (cut off) after {FOLLOW_SECONDS}s; writers go on for "
          f"{CUT_COMMITS} commits ({CUT_MIN_SECONDS}-{CUT_MAX_SECONDS}s)")
    _, took = write_until(writers, CUT_COMMITS, CUT_MIN_SECONDS, CUT_MAX_SECONDS)
    since = [sum(w.commits[t] for w in writers) - at_cut[t] for t in tenants]
    print(f"  commits since the cut-off, in {took:.1f}s: all tenants {sum(since)}, per tenant "
          f"{', '.join(map(str, since))}")
    return promote_and_check(name, primary, standby, tenants, threads, before)


def run_sync(ctx):
    name = "3 promotion under synchronous replication"
    print(f"--- test {name}", flush=True)
    primary, standby, tenants = primary_and_standby(ctx, "sync", TENANTS, sync_name="fc_sync")
    before = VersionLog()
    threads = watch(primary, tenants, before) + [Writer(primary, tenants, seed=i)
                                                 for i in range(WRITERS)]
    start_all(threads)
    time.sleep(SYNC_SECONDS)
    state = primary.scalar("SELECT sync_state FROM pg_stat_replication "
                           "WHERE application_name = 'fc_sync'")
    print(f"  standby's sync_state while writers ran: {state}")
    if state != "sync":
        stop_all(threads)
        return report(name, False, f"the standby was {state}, not a synchronous standby")
    return promote_and_check(name, primary, standby, tenants, threads, before)
