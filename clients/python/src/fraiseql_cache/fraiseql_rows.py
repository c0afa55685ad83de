"""Where PostgresCache keeps its entries: an UNLOGGED table (FraiseQL's own
layout: cache_key text PK, cache_value jsonb, expires_at timestamptz) or
Redis. Values are JSON text in and Python objects out."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from psycopg import sql
from psycopg.rows import tuple_row

from .sql import index_name, qualified_table


def table_ddl(table_name: str):
    t = qualified_table(table_name)
    return [
        sql.SQL("CREATE UNLOGGED TABLE IF NOT EXISTS {} (cache_key TEXT PRIMARY KEY, "
                "cache_value JSONB NOT NULL, expires_at TIMESTAMPTZ NOT NULL)").format(t),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (expires_at)").format(
            index_name(table_name), t),
    ]


class TableRows:
    def __init__(self, pool, table_name: str) -> None:
        self.pool = pool
        self.t = qualified_table(table_name)
        self.regclass = ".".join('"' + p + '"' for p in table_name.split("."))

    async def _one(self, query, params=(), commit=False, fetch=True):
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute(query, params)
            row = await cur.fetchone() if fetch else None
            count = cur.rowcount
            if commit:
                await conn.commit()
            return row, count

    async def get(self, key: str) -> Optional[Any]:
        row, _ = await self._one(sql.SQL(
            "SELECT cache_value FROM {} WHERE cache_key = %s AND expires_at > now()"
        ).format(self.t), (key,))
        return None if row is None else row[0]

    async def set(self, key: str, value_json: str, ttl: float) -> None:
        expires = datetime.now(timezone.utc) + timedelta(seconds=ttl)
        await self._one(sql.SQL(
            "INSERT INTO {} (cache_key, cache_value, expires_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (cache_key) DO UPDATE SET cache_value = EXCLUDED.cache_value, "
            "expires_at = EXCLUDED.expires_at").format(self.t),
            (key, value_json, expires), commit=True, fetch=False)

    async def delete(self, key: str) -> bool:
        _, n = await self._one(sql.SQL("DELETE FROM {} WHERE cache_key = %s").format(self.t),
                               (key,), commit=True, fetch=False)
        return n > 0

    async def delete_pattern(self, pattern: str) -> int:
        # Redis-style * as in FraiseQL; SQL LIKE otherwise.
        _, n = await self._one(sql.SQL("DELETE FROM {} WHERE cache_key LIKE %s").format(self.t),
                               (pattern.replace("*", "%"),), commit=True, fetch=False)
        return n

    async def exists(self, key: str) -> bool:
        row, _ = await self._one(sql.SQL(
            "SELECT 1 FROM {} WHERE cache_key = %s AND expires_at > now()").format(self.t), (key,))
        return row is not None

    async def cleanup_expired(self) -> int:
        _, n = await self._one(sql.SQL("DELETE FROM {} WHERE expires_at <= now()").format(self.t),
                               commit=True, fetch=False)
        return n

    async def clear_all(self) -> int:
        _, n = await self._one(sql.SQL("DELETE FROM {}").format(self.t), commit=True, fetch=False)
        return n

    async def stats(self) -> dict:
        row, _ = await self._one(sql.SQL(
            "SELECT count(*), count(*) FILTER (WHERE expires_at <= now()), "
            "pg_total_relation_size(%s::regclass) FROM {}").format(self.t),
            (self.regclass,))
        total, expired, size = row
        return {"total_entries": total, "expired_entries": expired,
                "active_entries": total - expired, "table_size_bytes": size}


class RedisRows:
    """The same operations on a redis.asyncio client under a key prefix."""

    def __init__(self, client, prefix: str = "fraiseql:") -> None:
        self.r = client
        self.prefix = prefix

    async def get(self, key: str) -> Optional[Any]:
        raw = await self.r.get(self.prefix + key)
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value_json: str, ttl: float) -> None:
        await self.r.set(self.prefix + key, value_json, px=max(1, int(ttl * 1000)))

    async def delete(self, key: str) -> bool:
        return bool(await self.r.delete(self.prefix + key))

    async def delete_pattern(self, pattern: str) -> int:
        n = 0
        async for k in self.r.scan_iter(match=self.prefix + pattern.replace("%", "*")):
            n += await self.r.delete(k)
        return n

    async def exists(self, key: str) -> bool:
        return bool(await self.r.exists(self.prefix + key))

    async def cleanup_expired(self) -> int:
        return 0  # Redis expires entries itself

    async def clear_all(self) -> int:
        return await self.delete_pattern("*")

    async def stats(self) -> dict:
        n = 0
        async for _ in self.r.scan_iter(match=self.prefix + "*"):
            n += 1
        return {"total_entries": n, "expired_entries": 0, "active_entries": n,
                "table_size_bytes": 0}
