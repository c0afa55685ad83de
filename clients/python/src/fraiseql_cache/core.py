"""What the thread and asyncio watchers share: options, counters, health,
the handling of notifications and the pooled-listener rule (no I/O)."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, List, Optional

from .payload import heartbeat_floor, parse_notification
from .state import WatcherState
from .model import VersionUpdate

log = logging.getLogger("fraiseql_cache")


@dataclass
class WatcherOptions:
    """Settings of a watcher. Durations are in seconds."""

    conninfo: str = ""                 # the listener: a DIRECT connection (not a pooler)
    sql_conninfo: Optional[str] = None  # SQL reads (may go through a pooler); default conninfo
    channel: str = "cache_invalidation"
    heartbeat_channel: Optional[str] = None      # default "<channel>_heartbeat"
    heartbeat_interval: Optional[float] = None   # None: read fraiseql_cache.heartbeat_ms
    pooled_after: float = 3.0          # heartbeat intervals without a heartbeat => pooled
    probe: bool = True                 # after LISTEN, NOTIFY ourselves from the SQL connection
    liveness_timeout: Optional[float] = None     # default max(3 s, 3 heartbeat intervals)
    ping_interval: float = 1.0         # SELECT 1 on the listener when quiet this long
    resync_interval: float = 60.0      # reload every held pair this often (0 = never)
    reconnect_initial: float = 0.05
    reconnect_max: float = 5.0
    connect_kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.channel or len(self.channel.encode()) > 63 - len("_heartbeat"):
            raise ValueError("channel must be 1 to 53 bytes long")
        if self.heartbeat_channel is None:
            self.heartbeat_channel = self.channel + "_heartbeat"
        # Both connections run autocommit, whatever the caller passed.
        self.connect_kwargs = {**self.connect_kwargs, "autocommit": True}
        if self.sql_conninfo is None:
            self.sql_conninfo = self.conninfo
        for name in ("pooled_after", "ping_interval", "reconnect_initial", "reconnect_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.heartbeat_interval is not None and self.heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive (None: ask the server)")


@dataclass
class Health:
    healthy: bool            # local answers are trusted
    connected: bool          # the listener is connected
    loaded: bool             # every held pair was reloaded after the last LISTEN
    confirmed: bool          # a heartbeat or our probe arrived on this connection
    live: bool               # heard from within liveness_timeout
    listener_pooled: bool    # nothing arrives: the listener is behind a transaction pooler
    listener_pid: int
    last_error: str


class WatcherCore:
    def __init__(self, options: WatcherOptions) -> None:
        self.options = options
        self.state = WatcherState()
        self.counters = dict.fromkeys(
            ("notifications", "payload_errors", "versions_raised", "heartbeats", "probes_heard",
             "pings", "connects", "disconnects", "loads", "local_lookups", "first_reads",
             "sql_fallbacks", "refreshes"), 0)
        self._clock = time.monotonic
        self._last_heard = 0.0
        self._connected = False
        self._confirmed = False
        self._pooled = False
        self._pooled_logged = False
        self._listen_at = 0.0
        self._hb_interval = options.heartbeat_interval or 1.0
        self._last_floor: Optional[int] = None
        self._probe_token = ""
        self.reload_requested = False
        self.listener_pid = 0
        self.last_error = ""
        self._callbacks: List[Callable[[VersionUpdate], None]] = []
        self._cb_mu = threading.Lock()

    # -- counters, callbacks ---------------------------------------------------------
    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n  # a lost increment under races only skews statistics

    def on_update(self, callback: Callable[[VersionUpdate], None]) -> None:
        """Call `callback(update)` for every version that went up."""
        with self._cb_mu:
            self._callbacks.append(callback)

    def publish(self, raised: List[VersionUpdate]) -> None:
        if not raised:
            return
        self.count("versions_raised", len(raised))
        with self._cb_mu:
            cbs = list(self._callbacks)
        for u in raised:
            for cb in cbs:
                try:
                    cb(u)
                except Exception:  # an application callback must not stop the listener
                    log.exception("fraiseql_cache: update callback failed")

    # -- liveness and trust ----------------------------------------------------------------
    def liveness_timeout(self) -> float:
        if self.options.liveness_timeout is not None:
            return self.options.liveness_timeout
        return max(3.0, 3 * self._hb_interval, 2 * self.options.ping_interval)

    def heard(self) -> None:
        self._last_heard = self._clock()

    def live(self) -> bool:
        return self._clock() - self._last_heard < self.liveness_timeout()

    def trusted(self) -> bool:
        return self._connected and self._confirmed and not self._pooled and self.live()

    def health(self) -> Health:
        trusted = self.trusted()
        return Health(
            healthy=trusted and self.state.healthy, connected=self._connected,
            loaded=self.state.healthy, confirmed=self._confirmed, live=self.live(),
            listener_pooled=self._pooled, listener_pid=self.listener_pid,
            last_error=self.last_error)

    @property
    def healthy(self) -> bool:
        return self.health().healthy

    # -- a listener session's life -------------------------------------------------------
    def session_started(self, pid: int, heartbeat_ms: Optional[int],
                        server_pid: Optional[int] = None) -> None:
        """`pid`: the backend pid libpq was told at connect; `server_pid`:
        pg_backend_pid() on that connection. A pooler hands out its own."""
        if self.options.heartbeat_interval is None and heartbeat_ms:
            self._hb_interval = heartbeat_ms / 1000.0
        self.count("connects")
        self.listener_pid = pid
        self._connected = True
        self._confirmed = False
        self._pooled = False
        self._listen_at = self._clock()
        self.reload_requested = False
        self._probe_token = uuid.uuid4().hex
        self.heard()
        if server_pid is not None and server_pid != pid:
            self._set_pooled(
                "fraiseql_cache: the listener's connection goes through a connection pooler "
                f"(server backend pid {server_pid}, connection reports {pid}); notifications "
                "are not reliable there. Versions are read over SQL instead; give the "
                "listener a direct connection.")

    def _set_pooled(self, message: str) -> None:
        # Sticky until the next connection: a notification that slips through
        # while a pooled connection happens to run our ping proves nothing.
        self._pooled = True
        if not self._pooled_logged:
            self._pooled_logged = True
            log.warning(message)

    def probe_payload(self) -> str:
        return json.dumps({"probe": self._probe_token})

    def session_ended(self, error: Optional[BaseException]) -> None:
        self.state.mark_unhealthy()
        self._connected = False
        self._confirmed = False
        self.listener_pid = 0
        if error is not None:
            self.last_error = f"{type(error).__name__}: {error}"
        self.count("disconnects")

    def check_pooled(self) -> None:
        """After LISTEN: no heartbeat (nor our probe) for pooled_after intervals."""
        if self._confirmed or self._pooled:
            return
        if self._clock() - self._listen_at >= self.options.pooled_after * self._hb_interval:
            self._set_pooled(
                f"fraiseql_cache: no heartbeat on channel {self.options.heartbeat_channel!r} "
                f"within {self.options.pooled_after * self._hb_interval:.1f} s after LISTEN: the "
                "listener is probably behind a transaction pooler (PgBouncer "
                "pool_mode=transaction), where notifications never arrive. Versions are read "
                "over SQL instead; give the listener a direct connection.")

    def _confirm(self) -> None:
        if not self._pooled:
            self._confirmed = True

    def on_notify(self, channel: str, payload: str) -> None:
        """One notification received on the listener connection."""
        self.heard()
        if channel == self.options.heartbeat_channel:
            if self._probe_token and self._probe_token in payload:
                self.count("probes_heard")
                self._confirm()
                return
            self.count("heartbeats")
            self._confirm()
            floor = heartbeat_floor(payload)
            if floor is not None:
                previous, self._last_floor = self._last_floor, floor
                # The floor moves on a reset or after a crash, when versions moved
                # without a notification per pair: reload everything held. The
                # first floor heard counts as moved: the pairs held were read
                # before it was known, perhaps before a reset it reports.
                if previous != floor:
                    self.reload_requested = True
            return
        if channel != self.options.channel:
            return
        self.count("notifications")
        updates = parse_notification(payload)
        if updates is None:
            # Something we cannot read was said: reload everything.
            self.count("payload_errors")
            self.reload_requested = True
            log.warning("fraiseql_cache: unreadable notification payload %.200r", payload)
            return
        self.publish(self.state.apply_heard(updates))

    def loaded(self, pairs, versions, global_domains) -> None:
        self.count("loads")
        self.heard()
        self.publish(self.state.apply_load(pairs, versions, global_domains))
