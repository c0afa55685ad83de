"""VersionWatcher: the versions of a process, kept current by one LISTEN
connection on a background thread. Cache checks are answered locally."""

from __future__ import annotations

import os
import select
import threading
import time
from typing import Dict, List, Optional, Sequence

import psycopg

from . import sql as q
from .backoff import Backoff
from .core import WatcherCore, WatcherOptions, log
from .listener import check_listening, drain, heartbeat_ms
from .reader import SqlReader
from .state import LOCAL, UNHEALTHY
from .model import TenantLike, normalize_domains, normalize_tenant


class VersionWatcher(WatcherCore):
    """One per process. `VersionWatcher(conninfo)` or `VersionWatcher(options=...)`."""

    def __init__(self, conninfo: Optional[str] = None, *, options: Optional[WatcherOptions] = None,
                 reader_pool=None, start: bool = True, **kwargs) -> None:
        if options is None:
            options = WatcherOptions(conninfo=conninfo or "", **kwargs)
        elif conninfo is not None or kwargs:
            raise TypeError("pass either options= or conninfo and keyword settings, not both")
        super().__init__(options)
        self.reader = SqlReader(options.sql_conninfo, options.connect_kwargs, pool=reader_pool)
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: Optional[threading.Thread] = None
        if start:
            self.start()

    # -- life ----------------------------------------------------------------------
    def start(self) -> "VersionWatcher":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fraiseql-cache-listener",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join()
        self.reader.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    close = stop

    def __enter__(self) -> "VersionWatcher":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_until_healthy(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.healthy:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    # -- answers ---------------------------------------------------------------------
    def versions(self, tenant: TenantLike, domains: Sequence[str]) -> List[int]:
        """Current versions of (tenant, d) for every d, in order (None = all tenants)."""
        t, ds = normalize_tenant(tenant), normalize_domains(domains)
        if not ds:
            return []
        found = self.state.lookup(t, ds, self.trusted())
        if found.outcome == LOCAL:
            self.count("local_lookups")
            return found.versions
        self.count("sql_fallbacks" if found.outcome == UNHEALTHY else "first_reads")
        versions, globals_ = self.reader.read_domains(t, ds)
        merged, raised = self.state.apply_read(t, ds, versions, globals_, found.epoch,
                                               self.trusted())
        self.publish(raised)
        return merged

    def versions_dict(self, tenant: TenantLike, domains: Sequence[str]) -> Dict[str, int]:
        ds = normalize_domains(domains)
        return dict(zip(ds, self.versions(tenant, ds)))

    def refresh(self, tenant: TenantLike = None, domains: Optional[Sequence[str]] = None,
                ) -> Optional[List[int]]:
        """Read-your-writes: call after your own COMMIT returned.

        With domains: reads those pairs over SQL and holds them. Without:
        reloads every held pair over SQL.
        """
        self.count("refreshes")
        if domains is None:
            if tenant is not None:
                raise ValueError("refresh(tenant) needs the domains too")
            pairs = self.state.held_pairs()
            self.publish(self.state.apply_known(pairs, self.reader.load(pairs)))
            return None
        t, ds = normalize_tenant(tenant), normalize_domains(domains)
        if not ds:
            return []
        epoch = self.state.epoch
        versions, globals_ = self.reader.read_domains(t, ds)
        merged, raised = self.state.apply_read(t, ds, versions, globals_, epoch, self.trusted())
        self.publish(raised)
        return merged

    def lsn(self, tenant: TenantLike, domains: Sequence[str]) -> Optional[str]:
        """The WAL position a replica must have replayed for these versions."""
        return self.state.lsn(normalize_tenant(tenant), normalize_domains(domains))

    # -- the listener thread -----------------------------------------------------------
    def _run(self) -> None:
        o = self.options
        backoff = Backoff(o.reconnect_initial, o.reconnect_max)
        while not self._stopping.is_set():
            conn = None
            error: Optional[BaseException] = None
            try:
                conn = psycopg.connect(o.conninfo, **o.connect_kwargs)
                conn.add_notify_handler(lambda n: self.on_notify(n.channel, n.payload))
                conn.execute(q.listen(o.channel))
                conn.execute(q.listen(o.heartbeat_channel))
                check_listening(conn.execute(
                    q.LISTENING, ([o.channel, o.heartbeat_channel],)).fetchone()[0])
                self.session_started(conn.info.backend_pid,
                                     heartbeat_ms(conn.execute(q.HEARTBEAT_MS).fetchone()),
                                     conn.execute(q.BACKEND_PID).fetchone()[0])
                self._load(conn)  # after LISTEN: nothing said from here on is missed
                if o.probe:
                    self._send_probe()
                backoff.reset()
                self._session(conn)
            except Exception as e:  # the listener must survive anything
                error = e
                if not self._stopping.is_set():
                    log.info("fraiseql_cache: listener lost: %s", e)
            finally:
                self.session_ended(None if self._stopping.is_set() else error)
                if conn is not None:
                    conn.close()
            if self._stopping.is_set():
                break
            select.select([self._wake_r], [], [], backoff.next())

    def _send_probe(self) -> None:
        # From the reader's connection: heard only if notifications reach this
        # listener while it is idle, which is what a transaction pooler breaks.
        try:
            self.reader.probe(self.options.heartbeat_channel, self.probe_payload())
        except Exception as e:
            log.info("fraiseql_cache: listener probe not sent: %s", e)

    def _load(self, conn) -> None:
        pairs = self.state.held_pairs()
        versions = q.load_result(pairs, conn.execute(q.LOAD, q.load_params(pairs)).fetchall()) \
            if pairs else []
        globals_ = conn.execute(q.GLOBAL_DOMAINS).fetchone()[0]
        self.loaded(pairs, versions, globals_)
        drain(conn, self.on_notify)  # what arrived during the query

    def _session(self, conn) -> None:
        o = self.options
        next_resync = time.monotonic() + o.resync_interval
        fd = conn.fileno()
        while not self._stopping.is_set():
            drain(conn, self.on_notify)
            if self.reload_requested:
                self.reload_requested = False
                self._load(conn)
                next_resync = time.monotonic() + o.resync_interval
            self.check_pooled()
            now = time.monotonic()
            timeout = max(0.0, o.ping_interval - (now - self._last_heard))
            if o.resync_interval > 0:
                timeout = min(timeout, max(0.0, next_resync - now))
            if not self._confirmed:
                timeout = min(timeout, 0.1)
            ready, _, _ = select.select([fd, self._wake_r], [], [], timeout)
            if self._stopping.is_set():
                return
            if fd in ready:
                drain(conn, self.on_notify)
            if time.monotonic() - self._last_heard >= o.ping_interval:
                conn.execute("SELECT 1")
                self.count("pings")
                self.heard()
            if o.resync_interval > 0 and time.monotonic() >= next_resync:
                self._load(conn)
                next_resync = time.monotonic() + o.resync_interval
