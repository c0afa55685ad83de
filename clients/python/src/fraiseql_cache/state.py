"""What a watcher knows, and the rules for trusting it (no I/O; thread-safe).

- The map is trusted only while the listener is connected, has reloaded
  every held pair after its LISTEN, and is live.
- Every loss of the listener starts a new epoch. A pair read over SQL by a
  caller becomes held only if the state stayed healthy in the epoch the read
  started in (otherwise the next reload might not include it and a
  notification missed in between would go unnoticed).
- What is heard or read only ever raises a held version (maximum).
- A domain floor (announced on the all-tenants pair) raises every held pair
  of the domain and every pair read later.
- Every raise advances a sequence number, per domain too, so a caller can
  ask whether a domain moved since a given moment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from .payload import parse_lsn
from .model import ALL_TENANTS, PairKey, VersionUpdate

LOCAL, MISSING, UNHEALTHY = "local", "missing", "unhealthy"


@dataclass
class Lookup:
    outcome: str
    versions: List[int] = field(default_factory=list)
    epoch: int = 0
    seq: int = 0


class WatcherState:
    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._map: Dict[PairKey, int] = {}
        self._globals: Set[str] = set()
        self._floors: Dict[str, int] = {}
        self._lsn: Dict[PairKey, str] = {}
        self._healthy = False
        self._epoch = 0
        self._seq = 0
        self._domain_seq: Dict[str, int] = {}

    # -- internal, under the lock ------------------------------------------------
    def _key(self, tenant: str, domain: str) -> PairKey:
        if domain in self._globals:
            return PairKey(ALL_TENANTS, domain)
        return PairKey(tenant, domain)

    def _touch(self, domain: str) -> None:
        self._seq += 1
        self._domain_seq[domain] = self._seq

    def _merge(self, key: PairKey, version: int, hold: bool = True) -> bool:
        version = max(version, self._floors.get(key.domain, 0))
        held = self._map.get(key)
        if held is None:
            if not hold:
                return False
            self._map[key] = version
            self._touch(key.domain)
            return True
        if version > held:
            self._map[key] = version
            self._touch(key.domain)
            return True
        return False

    def _raise_floor(self, domain: str, floor: int) -> List[VersionUpdate]:
        raised = []
        if floor <= self._floors.get(domain, 0):
            return raised
        self._floors[domain] = floor
        self._touch(domain)
        for key, v in self._map.items():
            if key.domain == domain and v < floor:
                self._map[key] = floor
                raised.append(VersionUpdate(key, floor))
        return raised

    # -- lookups -----------------------------------------------------------------
    def lookup(self, tenant: str, domains: Sequence[str], trusted: bool) -> Lookup:
        with self._mu:
            out = Lookup(UNHEALTHY, epoch=self._epoch, seq=self._seq)
            if not (self._healthy and trusted):
                return out
            for d in domains:
                v = self._map.get(self._key(tenant, d))
                if v is None:
                    out.outcome = MISSING
                    out.versions = []
                    return out
                out.versions.append(v)
            out.outcome = LOCAL
            return out

    # -- what was heard, read, loaded ---------------------------------------------
    def apply_heard(self, updates: Iterable[VersionUpdate]) -> List[VersionUpdate]:
        raised: List[VersionUpdate] = []
        with self._mu:
            for u in updates:
                if u.domain_floor is not None and u.pair.tenant == ALL_TENANTS:
                    raised.extend(self._raise_floor(u.pair.domain, u.domain_floor))
                if self._merge(u.pair, u.version):
                    raised.append(u)
                if u.lsn is not None:
                    old = self._lsn.get(u.pair)
                    if old is None or parse_lsn(u.lsn) > parse_lsn(old):
                        self._lsn[u.pair] = u.lsn
        return raised

    def apply_read(self, tenant: str, domains: Sequence[str], versions: Sequence[int],
                   global_domains: Iterable[str], epoch: int, trusted: bool
                   ) -> Tuple[List[int], List[VersionUpdate]]:
        """A caller's SQL read, started in `epoch`. Returns (answer, raised)."""
        gset = set(global_domains)
        raised: List[VersionUpdate] = []
        merged: List[int] = []
        with self._mu:
            may_hold = self._healthy and trusted and epoch == self._epoch
            for d, v in zip(domains, versions):
                if d in gset and may_hold:
                    self._globals.add(d)
                key = PairKey(ALL_TENANTS, d) if d in gset else PairKey(tenant, d)
                if self._merge(key, v, hold=may_hold):
                    raised.append(VersionUpdate(key, v))
                elif not may_hold:
                    # Not held: nothing tells us whether it moved; say it did.
                    self._touch(d)
                held = self._map.get(key)
                merged.append(max(v, self._floors.get(d, 0), held if held is not None else 0))
        return merged, raised

    def held_pairs(self) -> List[PairKey]:
        with self._mu:
            return list(self._map)

    def apply_load(self, pairs: Sequence[PairKey], versions: Sequence[int],
                   global_domains: Iterable[str]) -> List[VersionUpdate]:
        raised: List[VersionUpdate] = []
        with self._mu:
            for key, v in zip(pairs, versions):
                if self._merge(key, v):
                    raised.append(VersionUpdate(key, v))
            self._globals = set(global_domains)
            self._healthy = True
        return raised

    def apply_known(self, pairs: Sequence[PairKey], versions: Sequence[int]) -> List[VersionUpdate]:
        """Versions read over SQL for pairs already held (refresh): raise only."""
        raised: List[VersionUpdate] = []
        with self._mu:
            for key, v in zip(pairs, versions):
                if self._merge(key, v, hold=False):
                    raised.append(VersionUpdate(key, v))
        return raised

    def mark_unhealthy(self) -> None:
        with self._mu:
            self._healthy = False
            self._epoch += 1

    # -- introspection -------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        with self._mu:
            return self._healthy

    @property
    def epoch(self) -> int:
        with self._mu:
            return self._epoch

    @property
    def seq(self) -> int:
        with self._mu:
            return self._seq

    def changed_since(self, domains: Iterable[str], seq: int) -> bool:
        """Whether any pair of these domains went up after sequence `seq`."""
        with self._mu:
            return any(self._domain_seq.get(d, 0) > seq for d in domains)

    def size(self) -> int:
        with self._mu:
            return len(self._map)

    def is_global(self, domain: str) -> bool:
        with self._mu:
            return domain in self._globals

    def domain_floor(self, domain: str) -> int:
        with self._mu:
            return self._floors.get(domain, 0)

    def lsn(self, tenant: str, domains: Sequence[str]) -> Optional[str]:
        """The highest announced LSN among these pairs (None if none was announced)."""
        with self._mu:
            best = None
            for d in domains:
                for key in (self._key(tenant, d), PairKey(ALL_TENANTS, d)):
                    l = self._lsn.get(key)
                    if l is not None and (best is None or parse_lsn(l) > parse_lsn(best)):
                        best = l
            return best
