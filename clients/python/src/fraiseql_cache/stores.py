"""Where VersionedCache entries live: bytes under a key, with a TTL that only
bounds memory (freshness comes from the versions).

LruStore (in process, bounded, thread-safe), RedisStore (redis-py client,
shared by every process using the same Redis and prefix) and AsyncRedisStore
(redis.asyncio). A store that fails raises; the cache counts it as a miss.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Optional, Tuple


class LruStore:
    def __init__(self, capacity: int = 10000) -> None:
        if capacity <= 0:
            raise ValueError("LruStore capacity must be positive")
        self.capacity = capacity
        self._data: "OrderedDict[str, Tuple[bytes, float]]" = OrderedDict()
        self._mu = threading.Lock()

    def get(self, key: str) -> Optional[bytes]:
        with self._mu:
            item = self._data.get(key)
            if item is None:
                return None
            if item[1] and item[1] < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[0]

    def set(self, key: str, value: bytes, ttl: Optional[float] = None) -> None:
        expires = time.monotonic() + ttl if ttl else 0.0
        with self._mu:
            self._data[key] = (value, expires)
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

    def delete(self, key: str) -> bool:
        with self._mu:
            return self._data.pop(key, None) is not None

    def __len__(self) -> int:
        with self._mu:
            return len(self._data)


class RedisStore:
    def __init__(self, client=None, *, prefix: str = "fraiseql_cache:", url: Optional[str] = None
                 ) -> None:
        if client is None:
            import redis

            client = redis.Redis.from_url(url) if url else redis.Redis()
        self.client = client
        self.prefix = prefix

    def get(self, key: str) -> Optional[bytes]:
        return self.client.get(self.prefix + key)

    def set(self, key: str, value: bytes, ttl: Optional[float] = None) -> None:
        if ttl:
            self.client.set(self.prefix + key, value, px=max(1, int(ttl * 1000)))
        else:
            self.client.set(self.prefix + key, value)

    def delete(self, key: str) -> bool:
        return bool(self.client.delete(self.prefix + key))


class AsyncRedisStore:
    def __init__(self, client=None, *, prefix: str = "fraiseql_cache:", url: Optional[str] = None
                 ) -> None:
        if client is None:
            import redis.asyncio as aredis

            client = aredis.Redis.from_url(url) if url else aredis.Redis()
        self.client = client
        self.prefix = prefix

    async def get(self, key: str) -> Optional[bytes]:
        return await self.client.get(self.prefix + key)

    async def set(self, key: str, value: bytes, ttl: Optional[float] = None) -> None:
        if ttl:
            await self.client.set(self.prefix + key, value, px=max(1, int(ttl * 1000)))
        else:
            await self.client.set(self.prefix + key, value)

    async def delete(self, key: str) -> bool:
        return bool(await self.client.delete(self.prefix + key))
