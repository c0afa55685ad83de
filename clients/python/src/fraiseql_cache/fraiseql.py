"""A drop-in for FraiseQL 1.x's PostgresCache, backed by pg_fraiseql_cache.

Same constructor and methods as fraiseql.caching.postgres_cache.PostgresCache,
with these differences:

- the extension is detected at construction (FraiseQL detects it at the first
  operation, so get_domain_versions() answered {} until something else ran);
- get_domain_versions() answers every requested domain, from a local
  AsyncVersionWatcher (zero round trips once a pair is held); global domains
  for any tenant; tenant None is the all-tenants id;
- set(key, value, ttl, versions) refuses to store an entry when the versions
  were captured after the read that preceded it and a domain moved in
  between (the tag could be newer than the data);
- get() never returns an entry whose versions are known to be stale;
- entries can live in Redis instead of the UNLOGGED table.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Sequence

import psycopg
from psycopg.rows import tuple_row

from .fraiseql_rows import RedisRows, TableRows, table_ddl
from .model import VersionReadError, normalize_domains, normalize_tenant
from .watcher_async import AsyncVersionWatcher

log = logging.getLogger("fraiseql_cache")

DETECT = "SELECT extversion FROM pg_extension WHERE extname = 'pg_fraiseql_cache'"
SETUP = "SELECT fraiseql_cache.setup_table_invalidation(%s, %s, %s)"
CASCADE = ("INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain, rule_type) "
           "VALUES (%s, %s, %s) ON CONFLICT (source_domain, target_domain) "
           "DO UPDATE SET rule_type = EXCLUDED.rule_type")


class PostgresCacheError(Exception):
    """Raised when a cache operation fails (FraiseQL's name)."""


class DomainVersions(dict):
    """dict[str, int] as get_domain_versions() returns it, remembering the
    tenant and the moment the versions were captured."""

    def __init__(self, items=(), *, tenant_id: Optional[str] = None, seq: Optional[int] = None):
        super().__init__(items)
        self.tenant_id = tenant_id
        self.seq = seq


class PostgresCache:
    def __init__(self, connection_pool, table_name: str = "fraiseql_cache",
                 auto_initialize: bool = True, *, watcher: Optional[AsyncVersionWatcher] = None,
                 listener_conninfo: Optional[str] = None, redis=None,
                 redis_prefix: str = "fraiseql:", max_tracked_reads: int = 10000) -> None:
        """connection_pool: a psycopg_pool AsyncConnectionPool.

        watcher: an AsyncVersionWatcher to share; by default one is started at the
        first operation, listening on `listener_conninfo` (default: the pool's
        conninfo; it must be a direct connection, not a transaction pooler).
        redis: a redis.asyncio client: entries go there instead of the table.
        """
        if connection_pool is None:
            raise ValueError("PostgresCache needs a psycopg_pool AsyncConnectionPool")
        self.pool = connection_pool
        self.table_name = table_name
        self._ddl = table_ddl(table_name)  # validates the name
        self.rows = RedisRows(redis, redis_prefix) if redis is not None else \
            TableRows(connection_pool, table_name)
        self._uses_table = redis is None
        self.watcher = watcher
        self._own_watcher = watcher is None
        self.listener_conninfo = listener_conninfo
        self._initialized = False
        self._watcher_started = False
        self.has_domain_versioning = False
        self.extension_version: Optional[str] = None
        self._reads: "OrderedDict[str, int]" = OrderedDict()
        self._max_reads = max_tracked_reads
        self.counters: Dict[str, int] = dict.fromkeys(
            ("late_tags_refused", "stale_entries_refused"), 0)
        if auto_initialize:
            self._initialize_now()

    # -- start-up --------------------------------------------------------------------------
    def _conninfo(self) -> str:
        return getattr(self.pool, "conninfo", "") or ""

    def _connect_kwargs(self) -> dict:
        kw = dict(getattr(self.pool, "kwargs", {}) or {})
        kw.pop("row_factory", None)
        return kw

    def _initialize_now(self) -> None:
        """Detects the extension (and creates the table) synchronously, at construction."""
        try:
            with psycopg.connect(self._conninfo(), **self._connect_kwargs()) as conn:
                cur = conn.cursor(row_factory=tuple_row)
                if self._uses_table:
                    for stmt in self._ddl:
                        cur.execute(stmt)
                row = cur.execute(DETECT).fetchone()
                conn.commit()
        except psycopg.Error as e:
            log.warning("fraiseql_cache: cannot initialize at construction (%s); "
                        "retrying at the first operation", e)
            return
        self._detected(row)
        self._initialized = True

    def _detected(self, row) -> None:
        self.has_domain_versioning = row is not None
        self.extension_version = row[0] if row else None
        if row:
            log.info("fraiseql_cache: detected pg_fraiseql_cache %s", row[0])
        else:
            log.info("fraiseql_cache: pg_fraiseql_cache not installed, TTL-only caching")

    async def initialize(self) -> None:
        """Creates the table, detects the extension, starts the watcher (idempotent)."""
        await self._ensure_initialized()

    async def _ensure_initialized(self) -> None:
        if not self._initialized:
            try:
                async with self.pool.connection() as conn:
                    cur = conn.cursor(row_factory=tuple_row)
                    if self._uses_table:
                        for stmt in self._ddl:
                            await cur.execute(stmt)
                    await cur.execute(DETECT)
                    row = await cur.fetchone()
                    await conn.commit()
            except psycopg.Error as e:
                raise PostgresCacheError(f"Failed to initialize the cache: {e}") from e
            self._detected(row)
            self._initialized = True
        if self.has_domain_versioning and not self._watcher_started:
            if self.watcher is None:
                self.watcher = AsyncVersionWatcher(
                    self.listener_conninfo if self.listener_conninfo is not None
                    else self._conninfo(), reader_pool=self.pool,
                    connect_kwargs=self._connect_kwargs())
            await self.watcher.start()
            self._watcher_started = True

    async def close(self) -> None:
        """Stops the watcher this cache started (not a shared one)."""
        if self._own_watcher and self.watcher is not None:
            await self.watcher.stop()
            self.watcher = None
            self._watcher_started = False

    # -- versions -------------------------------------------------------------------------------
    async def get_domain_versions(self, tenant_id: Any, domains: Sequence[str]) -> Dict[str, int]:
        """{domain: version} for every requested domain; tenant None = all tenants.

        Without the extension: {} (TTL-only caching, as FraiseQL does).
        """
        await self._ensure_initialized()
        ds = normalize_domains(domains)
        tenant = normalize_tenant(tenant_id)
        if not self.has_domain_versioning:
            return {}
        seq = self.watcher.state.seq  # captured before the versions are read
        try:
            versions = await self.watcher.versions(tenant, ds)
        except VersionReadError as e:
            raise PostgresCacheError(f"Failed to get domain versions: {e}") from e
        return DomainVersions(zip(ds, versions), tenant_id=tenant, seq=seq)

    def _note_read(self, key: str) -> None:
        if self.watcher is None:
            return
        self._reads[key] = self.watcher.state.seq
        self._reads.move_to_end(key)
        while len(self._reads) > self._max_reads:
            self._reads.popitem(last=False)

    # -- entries ----------------------------------------------------------------------------------
    async def _read(self, key: str):
        await self._ensure_initialized()
        self._note_read(key)
        try:
            return await self.rows.get(key)
        except psycopg.Error as e:
            raise PostgresCacheError(f"Failed to get cache key: {e}") from e

    @staticmethod
    def _envelope(value):
        if isinstance(value, dict) and "result" in value and "versions" in value:
            return value["result"], value["versions"], value.get("tenant_id")
        return value, None, None

    async def get(self, key: str) -> Optional[Any]:
        """The cached value (unwrapped), or None; never an entry known to be stale."""
        result, versions, tenant = self._envelope(await self._read(key))
        if versions and tenant and self.has_domain_versioning:
            current = await self.get_domain_versions(tenant, list(versions))
            if dict(current) != versions:
                self.counters["stale_entries_refused"] += 1
                return None
        return result

    async def get_with_metadata(self, key: str):
        """(result, versions) or (None, None)."""
        value = await self._read(key)
        if value is None:
            return None, None
        result, versions, _ = self._envelope(value)
        return result, versions

    async def set(self, key: str, value: Any, ttl: int,
                  versions: Optional[Dict[str, int]] = None) -> None:
        await self._ensure_initialized()
        read_seq = self._reads.pop(key, None)
        if self.has_domain_versioning and versions:
            cap_seq = getattr(versions, "seq", None)
            captured_before_read = (cap_seq is not None and read_seq is not None
                                    and cap_seq <= read_seq)
            if (not captured_before_read and read_seq is not None
                    and self.watcher.state.changed_since(list(versions), read_seq)):
                # Read after the value was computed, and a domain moved since: the tag
                # could be newer than the data. Not storing is a harmless miss.
                self.counters["late_tags_refused"] += 1
                log.debug("fraiseql_cache: not caching %r: versions read after the data", key)
                return
            stored: Any = {"result": value, "versions": dict(versions),
                           "cached_at": datetime.now(timezone.utc).isoformat()}
            tenant = getattr(versions, "tenant_id", None)
            if tenant:
                stored["tenant_id"] = tenant
        else:
            stored = value
        try:
            text = json.dumps(stored)
        except (TypeError, ValueError) as e:
            raise ValueError(f"Failed to serialize value: {e}") from e
        try:
            await self.rows.set(key, text, ttl)
        except psycopg.Error as e:
            raise PostgresCacheError(f"Failed to set cache key: {e}") from e

    async def _call(self, what: str, op, *args):
        await self._ensure_initialized()
        try:
            return await op(*args)
        except psycopg.Error as e:
            raise PostgresCacheError(f"Failed to {what}: {e}") from e

    async def delete(self, key: str) -> bool:
        return await self._call("delete cache key", self.rows.delete, key)

    async def delete_pattern(self, pattern: str) -> int:
        return await self._call("delete pattern", self.rows.delete_pattern, pattern)

    async def exists(self, key: str) -> bool:
        return await self._call("check cache key", self.rows.exists, key)

    async def cleanup_expired(self) -> int:
        return await self._call("cleanup expired entries", self.rows.cleanup_expired)

    async def clear_all(self) -> int:
        return await self._call("clear cache", self.rows.clear_all)

    async def get_stats(self) -> dict:
        return await self._call("get cache stats", self.rows.stats)

    async def ping(self) -> bool:
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute("SELECT 1")
                return await cur.fetchone() is not None
        except psycopg.Error as e:
            raise PostgresCacheError(f"Failed to ping PostgreSQL: {e}") from e

    # -- the extension's set-up -------------------------------------------------------------
    async def _admin(self, what: str, query: str, params=()):
        await self._ensure_initialized()
        if not self.has_domain_versioning:
            log.warning("fraiseql_cache: %s needs the pg_fraiseql_cache extension; skipped", what)
            return None
        try:
            async with self.pool.connection() as conn:
                cur = conn.cursor(row_factory=tuple_row)
                await cur.execute(query, params)
                row = await cur.fetchone() if cur.description else None
                n = cur.rowcount
                await conn.commit()
                return row, n
        except psycopg.Error as e:
            raise PostgresCacheError(f"Failed to {what}: {e}") from e

    async def setup_table_trigger(self, table_name: str, domain_name: Optional[str] = None,
                                  tenant_column: Optional[str] = "tenant_id", *,
                                  domain: Optional[str] = None) -> Optional[str]:
        """fraiseql_cache.setup_table_invalidation(); idempotent, call it at every start."""
        if domain is not None and domain_name is not None and domain != domain_name:
            raise ValueError("give the domain once (domain_name or domain)")
        d = domain if domain is not None else domain_name
        out = await self._admin(f"setup trigger for table {table_name}", SETUP,
                                (table_name, d or None, tenant_column))
        return out[0][0] if out and out[0] else None

    async def register_cascade_rule(self, source_domain: str, target_domain: str,
                                    rule_type: str = "invalidate") -> None:
        await self._admin("register CASCADE rule", CASCADE,
                          (source_domain, target_domain, rule_type))

    async def clear_cascade_rules(self, source_domain: Optional[str] = None) -> int:
        if source_domain:
            out = await self._admin("clear CASCADE rules",
                                    "DELETE FROM fraiseql_cache.cascade_rules "
                                    "WHERE source_domain = %s", (source_domain,))
        else:
            out = await self._admin("clear CASCADE rules",
                                    "DELETE FROM fraiseql_cache.cascade_rules")
        return out[1] if out else 0
