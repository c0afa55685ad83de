"""Test 4: a point-in-time restore to a WAL position before the end, started as
a new primary (recovery_target_action = promote), shows only versions above
every version the original showed."""
import os
import time

from checks import check_raised, notifications_heard, report, thread_errors
from cluster import Node, TestFailure, create_schema, chown_postgres
from test_promotion import writes_on_promoted, watch
from topology import tenants as make_tenants
from workload import VersionLog, Writer, start_all, stop_all, write_until

SECONDS_BEFORE_TARGET = 3
# After the target, the writers go on until they made COMMITS_AFTER_TARGET
# commits (each bumps the all-tenants pair), within bounds.
COMMITS_AFTER_TARGET = 30000
MIN_SECONDS_AFTER = 5
MAX_SECONDS_AFTER = 25
WRITERS = 3
# Writes committed so far: each commit adds 1 to every row of one tenant.
COMMITS_SQL = "SELECT sum(s) FROM (SELECT max(seq) AS s FROM tv_contract GROUP BY tenant_id) t"


def run(ctx):
    name = "4 point-in-time restore started as a new primary"
    print(f"--- test {name}", flush=True)
    tenants = make_tenants(3)
    archive = os.path.join(ctx.base, "pitr_archive")
    os.makedirs(archive)
    chown_postgres(archive)
    original = Node("pitr_original", ctx.base, ctx.port(), ctx.bindir)
    original.init(f"archive_mode = on\narchive_command = 'cp %p {archive}/%f'\n")
    original.start()
    create_schema(original, tenants)
    restored = Node("pitr_restored", ctx.base, ctx.port(), ctx.bindir)
    restored.init_from_backup(original, standby=False)  # the base backup, not started

    before = VersionLog()
    threads = watch(original, tenants, before) + [
        Writer(original, tenants, seed=i, settings=Writer.FAST) for i in range(WRITERS)]
    start_all(threads)
    time.sleep(SECONDS_BEFORE_TARGET)
    target = original.scalar("SELECT pg_current_wal_lsn()::text")
    writers = [t for t in threads if isinstance(t, Writer)]
    made, took = write_until(writers, COMMITS_AFTER_TARGET, MIN_SECONDS_AFTER, MAX_SECONDS_AFTER)
    stop_all(threads)
    errors = thread_errors(threads) + notifications_heard(threads)
    commits = sum(t.total() for t in threads if isinstance(t, Writer))
    seq_end = original.scalar(COMMITS_SQL)
    switched = original.scalar("SELECT pg_walfile_name(pg_switch_wal())")
    original.poll_query("SELECT last_archived_wal >= %s FROM pg_stat_archiver", (switched,))
    original.stop("fast")
    print(f"  {commits} commits on the original; restore target LSN {target} "
          f"after {SECONDS_BEFORE_TARGET}s; {made} commits after it, in {took:.1f}s")

    restored.append_conf(f"restore_command = 'cp {archive}/%f %p'\n"
                         f"recovery_target_lsn = '{target}'\n"
                         "recovery_target_action = 'promote'\n"
                         "archive_mode = off\n")
    signal = os.path.join(restored.data, "recovery.signal")
    open(signal, "w").close()
    chown_postgres(signal)
    restored.start()
    restored.poll_query("SELECT NOT pg_is_in_recovery()", timeout=120)
    serving = restored.wait_serving()
    seq_restored = restored.scalar(COMMITS_SQL)
    print(f"  restored and promoted, serving after {serving:.2f}s; data at the target: "
          f"{seq_restored} of {seq_end} commits")
    if not 0 < seq_restored < seq_end:
        raise TestFailure(f"the restore did not stop inside the run "
                          f"({seq_restored} of {seq_end} commits)")
    after, after_commits, after_errors = writes_on_promoted(restored, tenants)
    print(f"  {after_commits} commits on the restored node")
    errors += after_errors + check_raised(before, after, tenants)
    return report(name, not errors, "; ".join(errors))
