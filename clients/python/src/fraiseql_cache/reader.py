"""SQL version reads for callers (first reads, fallbacks, refresh()), sync and async.

Each reader owns one autocommit connection (or borrows from a psycopg_pool
pool) and retries once on a new connection after a lost one: the reads are
idempotent.
"""

from __future__ import annotations

import asyncio
import threading
from typing import List, Optional, Sequence, Tuple

import psycopg

from . import sql as q
from .model import PairKey, VersionReadError


def _read_domains(cur_row, domains) -> Tuple[List[int], List[str]]:
    versions = q.check_versions(cur_row, domains)
    return versions, list(cur_row[1] or [])


class SqlReader:
    def __init__(self, conninfo: str = "", connect_kwargs: Optional[dict] = None,
                 pool=None) -> None:
        self.conninfo = conninfo
        self.connect_kwargs = {**(connect_kwargs or {}), "autocommit": True}
        self.pool = pool
        self.round_trips = 0
        self._conn: Optional[psycopg.Connection] = None
        self._mu = threading.Lock()

    def _run(self, f):
        if self.pool is not None:
            try:
                with self.pool.connection() as c:
                    self.round_trips += 1
                    return f(c)
            except psycopg.Error as e:
                raise VersionReadError(f"version read failed: {e}") from e
        with self._mu:
            for attempt in (0, 1):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(self.conninfo, **self.connect_kwargs)
                    self.round_trips += 1
                    return f(self._conn)
                except psycopg.Error as e:
                    if self._conn is not None and (self._conn.closed or self._conn.broken):
                        self._conn.close()
                        self._conn = None
                    if attempt == 0 and q.is_connection_loss(e):
                        continue
                    raise VersionReadError(f"version read failed: {e}") from e

    def versions(self, tenant: str, domains: Sequence[str]) -> List[int]:
        return self._run(lambda c: q.check_versions(
            c.execute(q.READ_VERSIONS, q.read_params(tenant, domains)).fetchone(), domains))

    def read_domains(self, tenant: str, domains: Sequence[str]) -> Tuple[List[int], List[str]]:
        return self._run(lambda c: _read_domains(
            c.execute(q.READ_DOMAINS, q.read_params(tenant, domains)).fetchone(), domains))

    def probe(self, channel: str, payload: str) -> None:
        self._run(lambda c: c.execute(q.PROBE, (channel, payload)))

    def load(self, pairs: Sequence[PairKey]) -> List[int]:
        if not pairs:
            return []
        return self._run(lambda c: q.load_result(
            pairs, c.execute(q.LOAD, q.load_params(pairs)).fetchall()))

    def close(self) -> None:
        with self._mu:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class AsyncSqlReader:
    def __init__(self, conninfo: str = "", connect_kwargs: Optional[dict] = None,
                 pool=None) -> None:
        self.conninfo = conninfo
        self.connect_kwargs = {**(connect_kwargs or {}), "autocommit": True}
        self.pool = pool
        self.round_trips = 0
        self._conn: Optional[psycopg.AsyncConnection] = None
        self._mu: Optional[asyncio.Lock] = None

    async def _run(self, f):
        if self.pool is not None:
            try:
                async with self.pool.connection() as c:
                    self.round_trips += 1
                    return await f(c)
            except psycopg.Error as e:
                raise VersionReadError(f"version read failed: {e}") from e
        if self._mu is None:
            self._mu = asyncio.Lock()
        async with self._mu:
            for attempt in (0, 1):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = await psycopg.AsyncConnection.connect(
                            self.conninfo, **self.connect_kwargs)
                    self.round_trips += 1
                    return await f(self._conn)
                except psycopg.Error as e:
                    if self._conn is not None and (self._conn.closed or self._conn.broken):
                        await self._conn.close()
                        self._conn = None
                    if attempt == 0 and q.is_connection_loss(e):
                        continue
                    raise VersionReadError(f"version read failed: {e}") from e

    async def versions(self, tenant: str, domains: Sequence[str]) -> List[int]:
        async def f(c):
            cur = await c.execute(q.READ_VERSIONS, q.read_params(tenant, domains))
            return q.check_versions(await cur.fetchone(), domains)
        return await self._run(f)

    async def read_domains(self, tenant: str, domains: Sequence[str]):
        async def f(c):
            cur = await c.execute(q.READ_DOMAINS, q.read_params(tenant, domains))
            return _read_domains(await cur.fetchone(), domains)
        return await self._run(f)

    async def probe(self, channel: str, payload: str) -> None:
        async def f(c):
            await c.execute(q.PROBE, (channel, payload))
        await self._run(f)

    async def load(self, pairs: Sequence[PairKey]) -> List[int]:
        if not pairs:
            return []

        async def f(c):
            cur = await c.execute(q.LOAD, q.load_params(pairs))
            return q.load_result(pairs, await cur.fetchall())
        return await self._run(f)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
