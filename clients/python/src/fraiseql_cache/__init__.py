"""Client for pg_fraiseql_cache: versions per (tenant, domain), kept current
locally from LISTEN/NOTIFY, versioned caches, and a FraiseQL PostgresCache
backend."""

from .cache import AsyncVersionedCache, VersionedCache
from .core import Health, WatcherOptions
from .payload import heartbeat_floor, parse_notification
from .stores import AsyncRedisStore, LruStore, RedisStore
from .model import (ALL_TENANTS, FraiseqlCacheError, PairKey, VersionReadError, VersionUpdate,
                    normalize_tenant)
from .watcher_async import AsyncVersionWatcher
from .watcher_sync import VersionWatcher

__all__ = [
    "ALL_TENANTS", "AsyncRedisStore", "AsyncVersionWatcher", "AsyncVersionedCache",
    "FraiseqlCacheError", "Health", "LruStore", "PairKey", "RedisStore", "VersionReadError",
    "VersionUpdate", "VersionWatcher", "VersionedCache", "WatcherOptions", "heartbeat_floor",
    "normalize_tenant", "parse_notification", "PostgresCache", "PostgresCacheError",
]


def __getattr__(name):
    # The FraiseQL backend needs psycopg_pool only when used.
    if name in ("PostgresCache", "PostgresCacheError"):
        from . import fraiseql

        return getattr(fraiseql, name)
    raise AttributeError(name)
