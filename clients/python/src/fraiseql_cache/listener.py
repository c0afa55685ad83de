"""Listener-connection steps shared by both watchers (pgconn level, no waiting)."""

from __future__ import annotations

import psycopg
from psycopg import pq



def drain(conn, on_notify) -> None:
    """Reads what arrived on the socket and hands every notification over.

    Raises psycopg.OperationalError when the connection is gone.
    """
    pg = conn.pgconn
    pg.consume_input()
    enc = conn.info.encoding
    while True:
        n = pg.notifies()
        if n is None:
            break
        on_notify(n.relname.decode(enc), n.extra.decode(enc, "replace"))
    if pg.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError("the listener connection was closed")


def check_listening(count: int) -> None:
    if count != 2:
        raise psycopg.OperationalError("LISTEN did not take effect on the listener connection")


def heartbeat_ms(row):
    try:
        return int(row[0]) if row and row[0] is not None else None
    except ValueError:
        return None


