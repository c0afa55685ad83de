"""Cache clients that follow DESIGN.md section 2 (version before data; an entry
is served while the versions match), and judge every hit by two rules.

A client, for a tenant t:
  required := per the design's rule (below), taken before the version read
  floor    := max(seq) of t on the node          (what the node shows now)
  v        := current_versions(t, ARRAY['contract'])
  entry (seq, v') in the shared cache with v' = v: a hit
  otherwise: read the data (max(seq)) and store (seq, v)

Design rule (asserted): a hit is stale if it serves data older than a commit
that had returned before the version read, and, on a standby, whose WAL the
standby had replayed: `required` is, from the newest Mark whose primary WAL
position the standby had replayed, the highest seq returned before that
position was read (each commit's bump is in the WAL before COMMIT returns).
On the primary, `required` is simply the highest seq returned so far.

Strict rule (reported): a hit is stale if it serves data older than what the
node itself showed (`floor`) just before the version read. The design allows
this: a commit is visible a moment before its bump (I1), on the primary until
the bump is published, on a standby until the worker's transaction is replayed.
"""
import bisect
import random
import threading
import time

from workload import Stoppable


def lsn_int(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


class Marks(Stoppable):
    """On the primary: (WAL insert position, commits returned before it was read)."""

    def __init__(self, primary, returned, interval=0.005):
        super().__init__("marks")
        self.primary = primary
        self.returned = returned
        self.interval = interval
        self.lock = threading.Lock()
        self.lsns = []
        self.snaps = []

    def body(self):
        with self.primary.connect() as c:
            while not self.stop_event.is_set():
                snap = self.returned.snapshot()
                lsn = lsn_int(c.execute("SELECT pg_current_wal_insert_lsn()::text",
                                        prepare=True).fetchone()[0])
                with self.lock:
                    self.lsns.append(lsn)
                    self.snaps.append(snap)
                time.sleep(self.interval)

    def required(self, replayed_lsn):
        with self.lock:
            i = bisect.bisect_right(self.lsns, replayed_lsn)
            return self.snaps[i - 1] if i else {}


class SharedCache:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries = {}
        self.hits = 0
        self.misses = 0
        self.stale = 0          # design rule
        self.strict_stale = 0   # strict rule
        self.examples = []

    def get(self, tenant):
        with self.lock:
            return self.entries.get(tenant)

    def put(self, tenant, entry):
        with self.lock:
            self.entries[tenant] = entry

    def record(self, hit, stale=None, strict=False):
        with self.lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1
            if strict:
                self.strict_stale += 1
            if stale is not None:
                self.stale += 1
                if len(self.examples) < 5:
                    self.examples.append(stale)


class CacheClient(Stoppable):
    """`marks` set: a standby client; otherwise `returned` (a primary client)."""

    def __init__(self, node, tenants, cache, seed, marks=None, returned=None):
        super().__init__(f"client-{seed}")
        self.node = node
        self.tenants = tenants
        self.cache = cache
        self.marks = marks
        self.returned = returned
        self.rng = random.Random(seed)

    def _required(self, c, t):
        if self.marks is not None:
            lsn = c.execute("SELECT pg_last_wal_replay_lsn()::text", prepare=True).fetchone()[0]
            return self.marks.required(lsn_int(lsn)).get(t, 0)
        return self.returned.snapshot().get(t, 0)

    def body(self):
        data_sql = "SELECT max(seq) FROM tv_contract WHERE tenant_id = %s"
        version_sql = "SELECT fraiseql_cache.current_versions(%s, ARRAY['contract'])"
        with self.node.connect() as c:
            while not self.stop_event.is_set():
                t = self.rng.choice(self.tenants)
                required = self._required(c, t)
                floor = c.execute(data_sql, (t,), prepare=True).fetchone()[0]
                v = tuple(c.execute(version_sql, (t,), prepare=True).fetchone()[0])
                entry = self.cache.get(t)
                if entry is not None and entry[1] == v:
                    stale = None
                    if entry[0] < required:
                        stale = {"tenant": t, "served_seq": entry[0], "required_seq": required,
                                 "node_seq": floor, "version": v}
                    self.cache.record(True, stale, strict=entry[0] < floor)
                    continue
                seq = c.execute(data_sql, (t,), prepare=True).fetchone()[0]
                self.cache.put(t, (seq, v))
                self.cache.record(False)
