"""Read-through cache of products and product lists in Redis, failing open.

Keys: ``catalog:product:<id>`` and ``catalog:sku:<sku>`` hold a product's JSON; list and search
results live under ``catalog:list:<generation>:<query hash>``. Every write drops the product's keys
and increments the generation, which retires every cached list at once (old ones expire). Writers
invalidate *after* their commit (``agora_chassis.db.after_commit``). A reader notes the generation
before it reads the database and stores a product only if the generation is still the same
(checked and set atomically in Redis): a read that overlapped a write is served but not cached,
so the row the writer replaced cannot be cached again after its invalidation.

When Redis is unreachable every call degrades to a miss or a no-op: the service answers from
PostgreSQL and readiness reports the cache as degraded. An invalidation lost while Redis is down
leaves an entry stale for at most its TTL.
"""

from __future__ import annotations

import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PREFIX = "catalog"
GENERATION_KEY = f"{PREFIX}:list:generation"
REDIS_TIMEOUT_SECONDS = 0.25
PUT_IF_GENERATION = """
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
    redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
    return 1
end
return 0
"""


def product_key(product_id: uuid.UUID) -> str:
    """Key of a product read by id."""
    return f"{PREFIX}:product:{product_id}"


def sku_key(sku: str) -> str:
    """Key of a product read by SKU."""
    return f"{PREFIX}:sku:{sku}"


class ProductCache:
    """The catalog's Redis cache; every method swallows Redis failures (logged)."""

    def __init__(self, redis: Redis | None, *, product_ttl: int, list_ttl: int) -> None:
        """Cache in ``redis`` (``None``: no cache at all).

        Args:
            redis: The client, or ``None`` to disable caching.
            product_ttl: Seconds a product stays cached.
            list_ttl: Seconds a list or search result stays cached.
        """
        self.redis = redis
        self.product_ttl = product_ttl
        self.list_ttl = list_ttl

    @classmethod
    def from_url(cls, url: str | None, *, product_ttl: int, list_ttl: int) -> ProductCache:
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
        return cls(redis, product_ttl=product_ttl, list_ttl=list_ttl)

    async def get(self, key: str) -> bytes | None:
        """The cached value, or ``None`` on a miss or when Redis fails."""
        if self.redis is None:
            return None
        try:
            value = await self.redis.get(key)
        except (RedisError, OSError) as exc:
            logger.warning("cache read failed: %s", exc)
            return None
        return value.encode() if isinstance(value, str) else value

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
        """The key of a list result in the current generation (``None`` when Redis fails)."""
        if self.redis is None:
            return None
        try:
            generation = await self.redis.get(GENERATION_KEY)
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

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self.redis is not None:
            await self.redis.aclose()
