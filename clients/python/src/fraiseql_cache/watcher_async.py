"""AsyncVersionWatcher: VersionWatcher for asyncio (psycopg AsyncConnection).

The listener runs as a task on the loop that called start(); cache checks
held locally never await I/O.
"""

from __future__ import annotations

import asyncio
import time
from typing import Dict, List, Optional, Sequence

import psycopg

from . import sql as q
from .backoff import Backoff
from .core import WatcherCore, WatcherOptions, log
from .listener import check_listening, drain, heartbeat_ms
from .reader import AsyncSqlReader
from .state import LOCAL, UNHEALTHY
from .model import TenantLike, normalize_domains, normalize_tenant


class AsyncVersionWatcher(WatcherCore):
    """`async with AsyncVersionWatcher(conninfo) as w: await w.versions(t, [...])`."""

    def __init__(self, conninfo: Optional[str] = None, *, options: Optional[WatcherOptions] = None,
                 reader_pool=None, **kwargs) -> None:
        if options is None:
            options = WatcherOptions(conninfo=conninfo or "", **kwargs)
        elif conninfo is not None or kwargs:
            raise TypeError("pass either options= or conninfo and keyword settings, not both")
        super().__init__(options)
        self.reader = AsyncSqlReader(options.sql_conninfo, options.connect_kwargs,
                                     pool=reader_pool)
        self._task: Optional[asyncio.Task] = None
        self._stopping = False

    # -- life ------------------------------------------------------------------------
    async def start(self) -> "AsyncVersionWatcher":
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.reader.close()

    close = stop

    async def __aenter__(self) -> "AsyncVersionWatcher":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def wait_until_healthy(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.healthy:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # -- answers -----------------------------------------------------------------------
    def local_versions(self, tenant: TenantLike, domains: Sequence[str]) -> Optional[List[int]]:
        """The local answer, or None when SQL is needed (no I/O)."""
        found = self.state.lookup(normalize_tenant(tenant), normalize_domains(domains),
                                  self.trusted())
        return found.versions if found.outcome == LOCAL else None

    async def versions(self, tenant: TenantLike, domains: Sequence[str]) -> List[int]:
        t, ds = normalize_tenant(tenant), normalize_domains(domains)
        if not ds:
            return []
        found = self.state.lookup(t, ds, self.trusted())
        if found.outcome == LOCAL:
            self.count("local_lookups")
            return found.versions
        self.count("sql_fallbacks" if found.outcome == UNHEALTHY else "first_reads")
        versions, globals_ = await self.reader.read_domains(t, ds)
        merged, raised = self.state.apply_read(t, ds, versions, globals_, found.epoch,
                                               self.trusted())
        self.publish(raised)
        return merged

    async def versions_dict(self, tenant: TenantLike, domains: Sequence[str]) -> Dict[str, int]:
        ds = normalize_domains(domains)
        return dict(zip(ds, await self.versions(tenant, ds)))

    async def refresh(self, tenant: TenantLike = None,
                      domains: Optional[Sequence[str]] = None) -> Optional[List[int]]:
        """Read-your-writes after your own COMMIT (see VersionWatcher.refresh)."""
        self.count("refreshes")
        if domains is None:
            if tenant is not None:
                raise ValueError("refresh(tenant) needs the domains too")
            pairs = self.state.held_pairs()
            self.publish(self.state.apply_known(pairs, await self.reader.load(pairs)))
            return None
        t, ds = normalize_tenant(tenant), normalize_domains(domains)
        if not ds:
            return []
        epoch = self.state.epoch
        versions, globals_ = await self.reader.read_domains(t, ds)
        merged, raised = self.state.apply_read(t, ds, versions, globals_, epoch, self.trusted())
        self.publish(raised)
        return merged

    def lsn(self, tenant: TenantLike, domains: Sequence[str]) -> Optional[str]:
        return self.state.lsn(normalize_tenant(tenant), normalize_domains(domains))

    # -- the listener task ---------------------------------------------------------------
    async def _run(self) -> None:
        o = self.options
        backoff = Backoff(o.reconnect_initial, o.reconnect_max)
        while not self._stopping:
            conn = None
            error: Optional[BaseException] = None
            try:
                conn = await psycopg.AsyncConnection.connect(o.conninfo, **o.connect_kwargs)
                conn.add_notify_handler(lambda n: self.on_notify(n.channel, n.payload))
                await conn.execute(q.listen(o.channel))
                await conn.execute(q.listen(o.heartbeat_channel))
                cur = await conn.execute(q.LISTENING, ([o.channel, o.heartbeat_channel],))
                check_listening((await cur.fetchone())[0])
                cur = await conn.execute(q.HEARTBEAT_MS)
                hb_ms = heartbeat_ms(await cur.fetchone())
                cur = await conn.execute(q.BACKEND_PID)
                self.session_started(conn.info.backend_pid, hb_ms, (await cur.fetchone())[0])
                await self._load(conn)
                if o.probe:
                    await self._send_probe()
                backoff.reset()
                await self._session(conn)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                error = e
                log.info("fraiseql_cache: listener lost: %s", e)
            finally:
                self.session_ended(None if self._stopping else error)
                if conn is not None:
                    try:
                        await asyncio.shield(conn.close())
                    except Exception:
                        pass
            await asyncio.sleep(backoff.next())

    async def _send_probe(self) -> None:
        # From the reader's connection: heard only if notifications reach this
        # listener while it is idle, which is what a transaction pooler breaks.
        try:
            await self.reader.probe(self.options.heartbeat_channel, self.probe_payload())
        except Exception as e:
            log.info("fraiseql_cache: listener probe not sent: %s", e)

    async def _load(self, conn) -> None:
        pairs = self.state.held_pairs()
        versions: List[int] = []
        if pairs:
            cur = await conn.execute(q.LOAD, q.load_params(pairs))
            versions = q.load_result(pairs, await cur.fetchall())
        cur = await conn.execute(q.GLOBAL_DOMAINS)
        self.loaded(pairs, versions, (await cur.fetchone())[0])
        drain(conn, self.on_notify)

    async def _wait_readable(self, fd: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        loop.add_reader(fd, ready.set)
        try:
            await asyncio.wait_for(ready.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            loop.remove_reader(fd)

    async def _session(self, conn) -> None:
        o = self.options
        next_resync = time.monotonic() + o.resync_interval
        fd = conn.fileno()
        while not self._stopping:
            drain(conn, self.on_notify)
            if self.reload_requested:
                self.reload_requested = False
                await self._load(conn)
                next_resync = time.monotonic() + o.resync_interval
            self.check_pooled()
            now = time.monotonic()
            timeout = max(0.0, o.ping_interval - (now - self._last_heard))
            if o.resync_interval > 0:
                timeout = min(timeout, max(0.0, next_resync - now))
            if not self._confirmed:
                timeout = min(timeout, 0.1)
            await self._wait_readable(fd, timeout)
            drain(conn, self.on_notify)
            if time.monotonic() - self._last_heard >= o.ping_interval:
                await conn.execute("SELECT 1")
                self.count("pings")
                self.heard()
            if o.resync_interval > 0 and time.monotonic() >= next_resync:
                await self._load(conn)
                next_resync = time.monotonic() + o.resync_interval
