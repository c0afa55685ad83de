"""Threads that load a node and watch its versions: writers, a NOTIFY listener,
a version poller, all recording into a VersionLog."""
import json
import random
import select
import threading
import time

import psycopg

from cluster import ALL_TENANTS

CHANNEL = "cache_invalidation"


class VersionLog:
    """Every version seen per (tenant, domain): highest and lowest."""

    def __init__(self):
        self.lock = threading.Lock()
        self.high = {}
        self.low = {}
        self.count = 0

    def see(self, tenant, domain, version):
        key = (str(tenant), domain)
        v = int(version)
        with self.lock:
            self.count += 1
            if v > self.high.get(key, -1):
                self.high[key] = v
            if key not in self.low or v < self.low[key]:
                self.low[key] = v


class Stoppable(threading.Thread):
    def __init__(self, name):
        super().__init__(name=name, daemon=True)
        self.stop_event = threading.Event()
        self.error = None

    def stop(self):
        self.stop_event.set()

    def run(self):
        try:
            self.body()
        except psycopg.OperationalError as e:
            # The server went away (an immediate stop in the middle of the load).
            self.error = e
        except Exception as e:  # reported by the test
            self.error = e


class Writer(Stoppable):
    """Commits one transaction at a time, each bumping one tenant's rows' seq."""

    # Session settings for the most commits per second: no fsync wait, no wait
    # for the bump's publication (the worker still bumps every commit).
    FAST = ("SET synchronous_commit = off", "SET fraiseql_cache.wait_for_bump = off")

    def __init__(self, node, tenants, seed, settings=(), returned=None):
        super().__init__(f"writer-{seed}")
        self.node = node
        self.settings = settings
        self.returned = returned  # a Returned: each commit's seq once COMMIT returned
        self.tenants = tenants
        self.rng = random.Random(seed)
        self.commits = {t: 0 for t in tenants}

    def body(self):
        with self.node.connect() as c:
            for stmt in self.settings:
                c.execute(stmt)
            while not self.stop_event.is_set():
                t = self.rng.choice(self.tenants)
                cur = c.execute("UPDATE tv_contract SET seq = seq + 1, name = 'v' || (seq + 1) "
                                "WHERE tenant_id = %s RETURNING seq", (t,), prepare=True)
                seq = max(r[0] for r in cur.fetchall())
                self.commits[t] += 1
                if self.returned is not None:
                    self.returned.add(t, seq)

    def total(self):
        return sum(self.commits.values())


class Returned:
    """Per tenant, the highest seq whose commit has returned to its writer."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seq = {}

    def add(self, tenant, seq):
        with self.lock:
            if seq > self.seq.get(tenant, -1):
                self.seq[tenant] = seq

    def snapshot(self):
        with self.lock:
            return dict(self.seq)


class Listener(Stoppable):
    """LISTENs on the invalidation channel and records every announced version."""

    def __init__(self, node, log):
        super().__init__(f"listener-{node.name}")
        self.node = node
        self.log = log
        self.notifications = 0
        self.ready = threading.Event()

    def _record(self, payload):
        items = json.loads(payload)
        if isinstance(items, dict):
            items = [items]
        for it in items:
            self.log.see(it["tenant_id"], it["domain"], it["version"])

    def body(self):
        with self.node.connect() as c:
            c.execute(f"LISTEN {CHANNEL}")
            self.ready.set()
            pg = c.pgconn
            while not self.stop_event.is_set():
                r, _, _ = select.select([c.fileno()], [], [], 0.1)
                if not r:
                    continue
                pg.consume_input()
                if pg.status != psycopg.pq.ConnStatus.OK:
                    raise psycopg.OperationalError("listener connection lost")
                while True:
                    n = pg.notifies()
                    if n is None:
                        break
                    self.notifications += 1
                    self._record(n.extra.decode())


def table_versions(conn):
    """{(tenant, domain): version} of the node's fraiseql_cache.domain_version."""
    return {(str(t), d): v for t, d, v in conn.execute(
        "SELECT tenant_id, domain, version FROM fraiseql_cache.domain_version")}


def live_versions(conn, tenants):
    """{(tenant, 'contract'): current_version()} for the all-tenants id and `tenants`."""
    out = {}
    for t in [ALL_TENANTS] + list(tenants):
        out[(str(t), "contract")] = conn.execute(
            "SELECT fraiseql_cache.current_version(%s, 'contract')", (t,)).fetchone()[0]
    return out


def read_versions(conn, tenants):
    """Every version the node shows: domain_version rows and current_version()."""
    return [(t, d, v) for (t, d), v in
            list(table_versions(conn).items()) + list(live_versions(conn, tenants).items())]


class Poller(Stoppable):
    """Reads domain_version and current_version() in a loop into the log."""

    def __init__(self, node, tenants, log, interval=0.02):
        super().__init__(f"poller-{node.name}")
        self.node = node
        self.tenants = tenants
        self.log = log
        self.interval = interval
        self.rounds = 0

    def body(self):
        with self.node.connect() as c:
            while not self.stop_event.is_set():
                for t, d, v in read_versions(c, self.tenants):
                    self.log.see(t, d, v)
                self.rounds += 1
                time.sleep(self.interval)


def write_until(writers, commits, min_seconds, max_seconds):
    """Lets `writers` run until together they made `commits` more commits, at
    least min_seconds and at most max_seconds; returns (commits made, seconds)."""
    started = time.monotonic()
    first = sum(w.total() for w in writers)
    while True:
        time.sleep(0.25)
        made = sum(w.total() for w in writers) - first
        took = time.monotonic() - started
        if took >= max_seconds or (took >= min_seconds and made >= commits):
            return made, took


def start_all(threads):
    for t in threads:
        t.start()
    for t in threads:
        if isinstance(t, Listener):
            t.ready.wait(10)


def stop_all(threads, timeout=30):
    for t in threads:
        t.stop()
    for t in threads:
        t.join(timeout)
