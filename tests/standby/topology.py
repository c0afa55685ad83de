"""A primary with the extension and a streaming hot standby made from it."""
import uuid

from cluster import Node, TestFailure, create_schema


def tenants(n):
    return [str(uuid.UUID(int=(i + 1) * 0x1111)) for i in range(n)]


def primary_and_standby(ctx, name, n_tenants, sync_name=None):
    """Starts a primary (ctx.port()) with the schema, and a standby (next port)
    from `pg_basebackup -R -X stream` through a physical slot; waits until the
    standby has replayed the primary's current WAL position."""
    ts = tenants(n_tenants)
    primary = Node(f"{name}_primary", ctx.base, ctx.port(), ctx.bindir)
    primary.init()
    primary.start()
    create_schema(primary, ts)
    slot = f"{name}_slot"
    primary.query("SELECT pg_create_physical_replication_slot(%s)", (slot,))
    standby = Node(f"{name}_standby", ctx.base, ctx.port(), ctx.bindir)
    standby.init_from_backup(primary, slot=slot, application_name=sync_name or f"{name}_standby")
    standby.start()
    primary.poll_query("SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = %s",
                       (sync_name or f"{name}_standby",))
    if sync_name:
        primary.query(f"ALTER SYSTEM SET synchronous_standby_names = '{sync_name}'")
        primary.query("SELECT pg_reload_conf()")
        primary.poll_query("SELECT sync_state = 'sync' FROM pg_stat_replication "
                           "WHERE application_name = %s", (sync_name,))
    standby.wait_for_replay(primary.flushed_lsn())
    if not standby.scalar("SELECT pg_is_in_recovery()"):
        raise TestFailure(f"{standby.name} is not in recovery")
    return primary, standby, ts
