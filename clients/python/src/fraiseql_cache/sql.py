"""The SQL the watchers send, and the shaping of its results (no I/O)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Sequence

from psycopg import sql

from .model import PairKey, VersionReadError

# One round trip per cache key: the versions (current_versions answers a
# global domain's version for any tenant) and which of the domains are global.
READ_DOMAINS = (
    "SELECT fraiseql_cache.current_versions(%(t)s::uuid, %(d)s::text[]), "
    "       ARRAY(SELECT DISTINCT domain FROM fraiseql_cache.tracked_tables "
    "              WHERE tenant_column IS NULL AND domain = ANY(%(d)s::text[]))"
)

READ_VERSIONS = "SELECT fraiseql_cache.current_versions(%(t)s::uuid, %(d)s::text[])"

# The reload after LISTEN: current_versions per tenant over every held pair.
LOAD = (
    "SELECT u.t::text, fraiseql_cache.current_versions(u.t, array_agg(u.d ORDER BY u.n)), "
    "       array_agg(u.d ORDER BY u.n) "
    "  FROM unnest(%(t)s::uuid[], %(d)s::text[]) WITH ORDINALITY AS u(t, d, n) "
    " GROUP BY u.t"
)
GLOBAL_DOMAINS = (
    "SELECT coalesce(array_agg(DISTINCT domain), '{}') FROM fraiseql_cache.tracked_tables "
    " WHERE tenant_column IS NULL"
)

HEARTBEAT_MS = "SELECT setting FROM pg_settings WHERE name = 'fraiseql_cache.heartbeat_ms'"

LISTENING = "SELECT count(*) FROM pg_listening_channels() AS c WHERE c = ANY(%s::text[])"

PROBE = "SELECT pg_notify(%s, %s)"

BACKEND_PID = "SELECT pg_backend_pid()"


def listen(channel: str) -> sql.Composed:
    return sql.SQL("LISTEN {}").format(sql.Identifier(channel))


def read_params(tenant: str, domains: Sequence[str]) -> dict:
    return {"t": tenant, "d": list(domains)}


def check_versions(row, domains: Sequence[str]) -> List[int]:
    if row is None or row[0] is None or len(row[0]) != len(domains):
        raise VersionReadError(
            f"current_versions() returned {row[0] if row else None!r} for {len(domains)} domains")
    return [int(v) for v in row[0]]


def load_params(pairs: Sequence[PairKey]) -> dict:
    return {"t": [p.tenant for p in pairs], "d": [p.domain for p in pairs]}


def load_result(pairs: Sequence[PairKey], rows) -> List[int]:
    """Versions in the order of `pairs` from LOAD's rows."""
    found: Dict[PairKey, int] = {}
    for tenant, versions, domains in rows:
        if versions is None or len(versions) != len(domains):
            raise VersionReadError("version reload returned a malformed row")
        for d, v in zip(domains, versions):
            found[PairKey(tenant, d)] = int(v)
    try:
        return [found[p] for p in pairs]
    except KeyError as e:
        raise VersionReadError(f"version reload missed the pair {e.args[0]}") from None


def group_by_tenant(pairs: Sequence[PairKey]) -> "OrderedDict[str, List[str]]":
    out: "OrderedDict[str, List[str]]" = OrderedDict()
    for p in pairs:
        out.setdefault(p.tenant, []).append(p.domain)
    return out


def is_connection_loss(e: BaseException) -> bool:
    import psycopg

    if isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError)):
        return True
    state = getattr(getattr(e, "diag", None), "sqlstate", None) or ""
    return state in ("57P01", "57P02", "57P03") or state.startswith("08")


def qualified_table(name: str) -> sql.Composable:
    """'t' or 'schema.t' as a quoted identifier; anything else is refused."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or any(not p or not _plain(p) for p in parts):
        raise ValueError(
            f"table name {name!r} must be 'name' or 'schema.name' (letters, digits, _)")
    return sql.Identifier(*parts)


def _plain(part: str) -> bool:
    return part.replace("_", "a").isalnum() and not part[0].isdigit() and part.isascii()


def index_name(name: str) -> sql.Composable:
    return sql.Identifier(name.split(".")[-1] + "_expires_idx")

