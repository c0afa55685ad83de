"""VersionedCache: get_or_compute() following the cache protocol.

1. v := the versions of (tenant, domains), read BEFORE computing.
2. An entry stored with exactly v (and the same tenant and domains): a hit.
3. Otherwise compute, and store (value, v).

Because v is read first, an entry can be tagged older than its data (a
spurious miss later) but never newer. A failing store is a miss, never a
hit; unreadable versions mean "compute, don't cache".
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Dict, Optional, Sequence

from .entry import decode_entry, encode_entry
from .model import TenantLike, VersionReadError, normalize_domains, normalize_tenant

log = logging.getLogger("fraiseql_cache")


def _counters() -> Dict[str, int]:
    return dict.fromkeys(("hits", "misses", "refused_stale", "store_errors", "uncached"), 0)


class _Base:
    def __init__(self, watcher, store, namespace: str, *, ttl: Optional[float] = 3600.0,
                 encode: Callable[[Any], Any] = lambda v: v,
                 decode: Callable[[Any], Any] = lambda v: v) -> None:
        if not namespace:
            raise ValueError("namespace must not be empty")
        self.watcher, self.store, self.namespace, self.ttl = watcher, store, namespace, ttl
        self.encode, self.decode = encode, decode
        self.counters = _counters()

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def _match(self, raw, tenant, domains, versions):
        """(hit, value)."""
        entry = decode_entry(raw)
        if entry is None:
            return False, None
        t, d, v, x = entry
        if t == tenant and d == list(domains) and v == list(versions):
            return True, self.decode(x)
        self.counters["refused_stale"] += 1
        return False, None


class VersionedCache(_Base):
    """Synchronous: a VersionWatcher (or anything with versions()) and a sync store."""

    def get_or_compute(self, key: str, tenant: TenantLike, domains: Sequence[str],
                       compute: Callable[[], Any]) -> Any:
        value, _ = self.lookup(key, tenant, domains, compute)
        return value

    def lookup(self, key: str, tenant: TenantLike, domains: Sequence[str],
               compute: Callable[[], Any]):
        """(value, hit)."""
        t, ds = normalize_tenant(tenant), normalize_domains(domains)
        try:
            versions = self.watcher.versions(t, ds)  # BEFORE the data
        except VersionReadError as e:
            log.warning("fraiseql_cache: versions unavailable, not caching: %s", e)
            self.counters["uncached"] += 1
            return compute(), False
        k = self._key(key)
        try:
            raw = self.store.get(k)
        except Exception as e:
            self.counters["store_errors"] += 1
            log.warning("fraiseql_cache: store get failed: %s", e)
            raw = None
        hit, value = self._match(raw, t, ds, versions)
        if hit:
            self.counters["hits"] += 1
            return value, True
        self.counters["misses"] += 1
        value = compute()
        try:
            self.store.set(k, encode_entry(t, ds, versions, value, self.encode), self.ttl)
        except Exception as e:
            self.counters["store_errors"] += 1
            log.warning("fraiseql_cache: store set failed: %s", e)
        return value, False


async def _maybe(x):
    return await x if inspect.isawaitable(x) else x


class AsyncVersionedCache(_Base):
    """asyncio: an AsyncVersionWatcher and a sync (LruStore) or async store."""

    async def get_or_compute(self, key: str, tenant: TenantLike, domains: Sequence[str],
                             compute: Callable[[], Any]) -> Any:
        value, _ = await self.lookup(key, tenant, domains, compute)
        return value

    async def lookup(self, key: str, tenant: TenantLike, domains: Sequence[str],
                     compute: Callable[[], Any]):
        t, ds = normalize_tenant(tenant), normalize_domains(domains)
        try:
            versions = await _maybe(self.watcher.versions(t, ds))  # BEFORE the data
        except VersionReadError as e:
            log.warning("fraiseql_cache: versions unavailable, not caching: %s", e)
            self.counters["uncached"] += 1
            return await _maybe(compute()), False
        k = self._key(key)
        try:
            raw = await _maybe(self.store.get(k))
        except Exception as e:
            self.counters["store_errors"] += 1
            log.warning("fraiseql_cache: store get failed: %s", e)
            raw = None
        hit, value = self._match(raw, t, ds, versions)
        if hit:
            self.counters["hits"] += 1
            return value, True
        self.counters["misses"] += 1
        value = await _maybe(compute())
        try:
            await _maybe(self.store.set(k, encode_entry(t, ds, versions, value, self.encode),
                                        self.ttl))
        except Exception as e:
            self.counters["store_errors"] += 1
            log.warning("fraiseql_cache: store set failed: %s", e)
        return value, False
