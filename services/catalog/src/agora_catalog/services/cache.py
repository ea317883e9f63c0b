"""Read-through cache of products and product lists in Redis, failing open.

Keys: ``catalog:product:<id>`` and ``catalog:sku:<sku>`` hold a product's JSON; list and search
results live under ``catalog:list:<generation>:<query hash>``. Every write drops the product's keys
and increments the generation, which retires every cached list at once (old ones expire). Writers
invalidate *after* their commit (``agora_chassis.db.after_commit``). A reader notes the generation
before it reads the database and stores a product only if the generation is still the same
(checked and set atomically in Redis): a read that overlapped a write is served but not cached,
so the row the writer replaced cannot be cached again after its invalidation.

In front of Redis, each process keeps what it read for ``local_ttl`` seconds (1 s by default) in
a bounded near cache: a Redis ``GET`` costs a cached read about a third of its CPU, and the hottest
products are read many times a second. A write drops this process's near cache at once; another
replica may serve the old value until its near-cache entry expires, well inside the 30 s browsers
and proxies may keep it anyway (``Cache-Control``). A read that overlapped an invalidation here
(``_epoch`` moved on) is served but not kept.

When Redis is unreachable every call degrades to a miss or a no-op: the service answers from
PostgreSQL and readiness reports the cache as degraded. An invalidation lost while Redis is down
leaves an entry stale for at most its TTL.
"""

from __future__ import annotations

import logging
import uuid

from cachetools import TTLCache
from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PREFIX = "catalog"
GENERATION_KEY = f"{PREFIX}:list:generation"
REDIS_TIMEOUT_SECONDS = 0.25
# The near cache's budget, in bytes of cached JSON (least recently used go first). Counting
# entries bounded nothing: 10,000 product lists of 100 items are hundreds of MiB, and what was set
# in the last second before the load stopped stays until the next write (TTLCache expires lazily).
LOCAL_BYTES = 4 * 1024 * 1024
PUT_IF_GENERATION = """
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
    redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
    return 1
end
return 0
"""


def product_key(product_id: uuid.UUID) -> str:
    """Key of a product read by id."""
    return f"{PREFIX}:product:{product_id.hex}"


def sku_key(sku: str) -> str:
    """Key of a product read by SKU."""
    return f"{PREFIX}:sku:{sku}"


class ProductCache:
    """The catalog's Redis cache; every method swallows Redis failures (logged)."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        product_ttl: int,
        list_ttl: int,
        local_ttl: float = 0.0,
        local_bytes: int = LOCAL_BYTES,
    ) -> None:
        """Cache in ``redis`` (``None``: no cache at all).

        Args:
            redis: The client, or ``None`` to disable caching.
            product_ttl: Seconds a product stays cached.
            list_ttl: Seconds a list or search result stays cached.
            local_ttl: Seconds this process keeps what it read from Redis (0: no near cache).
            local_bytes: Most bytes of values the near cache holds (least recently used go
                first); a bigger value is served but not kept.
        """
        self.redis = redis
        self.product_ttl = product_ttl
        self.list_ttl = list_ttl
        self._local: TTLCache[str, bytes] | None = (
            TTLCache(local_bytes, local_ttl, getsizeof=len) if local_ttl > 0 else None
        )
        self._epoch = 0

    @classmethod
    def from_url(
        cls, url: str | None, *, product_ttl: int, list_ttl: int, local_ttl: float = 0.0
    ) -> ProductCache:
        """A cache on the Redis at ``url`` (short timeouts, so a dead Redis costs little)."""
        redis = (
            Redis.from_url(
                url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            if url
            else None
        )
        return cls(redis, product_ttl=product_ttl, list_ttl=list_ttl, local_ttl=local_ttl)

    async def get(self, key: str) -> bytes | None:
        """The cached value, or ``None`` on a miss or when Redis fails."""
        if self.redis is None:
            return None
        try:
            return await self._near_or_redis(self.redis, key)
        except (RedisError, OSError) as exc:
            logger.warning("cache read failed: %s", exc)
            return None

    async def _near_or_redis(self, redis: Redis, key: str) -> bytes | None:
        """``key`` from the near cache, else from Redis (kept near unless invalidated meanwhile)."""
        if self._local is not None and (near := self._local.get(key)) is not None:
            return near
        epoch = self._epoch
        value = await redis.get(key)
        found = value.encode() if isinstance(value, str) else value
        local = self._local
        # Kept unless invalidated meanwhile; one over the whole budget is not (TTLCache refuses it).
        if found is None or local is None or epoch != self._epoch or len(found) > local.maxsize:
            return found
        local[key] = found
        return found

    def forget_local(self) -> None:
        """Empty this process's near cache (after a write, or when Redis was emptied)."""
        self._epoch += 1
        if self._local is not None:
            self._local.clear()

    async def put(self, key: str, value: bytes, ttl: int) -> None:
        """Cache ``value`` for ``ttl`` seconds (best effort)."""
        if self.redis is None:
            return
        try:
            await self.redis.set(key, value, ex=ttl)
        except (RedisError, OSError) as exc:
            logger.warning("cache write failed: %s", exc)

    async def generation(self) -> str | None:
        """The write generation now, for :meth:`put_if_generation` (``None``: no cache)."""
        if self.redis is None:
            return None
        try:
            value = await self.redis.get(GENERATION_KEY)
        except (RedisError, OSError) as exc:
            logger.warning("cache read failed: %s", exc)
            return None
        return str(int(value or 0))

    async def put_if_generation(
        self, key: str, value: bytes, ttl: int, generation: str | None
    ) -> bool:
        """Cache ``value`` only if no write happened since ``generation`` was read (atomic).

        Returns:
            Whether it was cached.
        """
        if self.redis is None or generation is None:
            return False
        try:
            stored = await self.redis.eval(
                PUT_IF_GENERATION, 2, GENERATION_KEY, key, generation, value, ttl
            )
        except (RedisError, OSError) as exc:
            logger.warning("cache write failed: %s", exc)
            return False
        return bool(stored)

    async def list_key(self, query_hash: str) -> str | None:
        """The key of a list result in the current generation (``None`` when Redis fails).

        The generation may come from the near cache: a list another replica retired is then
        served for at most the near cache's TTL.
        """
        if self.redis is None:
            return None
        try:
            generation = await self._near_or_redis(self.redis, GENERATION_KEY)
        except (RedisError, OSError) as exc:
            logger.warning("cache read failed: %s", exc)
            return None
        return f"{PREFIX}:list:{int(generation or 0)}:{query_hash}"

    async def invalidate(self, product_id: uuid.UUID | None, sku: str | None) -> None:
        """Drop a product's entries and retire every cached list (best effort)."""
        if self.redis is None:
            return
        keys = [product_key(product_id)] if product_id is not None else []
        keys += [sku_key(sku)] if sku is not None else []
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                if keys:
                    pipe.delete(*keys)
                pipe.incr(GENERATION_KEY)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("cache invalidation failed: %s", exc)
        finally:
            # After Redis dropped them: a read racing this one then cannot keep the old value.
            self.forget_local()

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self.redis is not None:
            await self.redis.aclose()
