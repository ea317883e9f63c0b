"""``ProductCache``: keys, generations, and failing open when Redis misbehaves."""

from __future__ import annotations

import logging
import uuid
from types import TracebackType
from typing import Any, cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from agora_catalog.services.cache import GENERATION_KEY, ProductCache, product_key, sku_key

PRODUCT_ID = uuid.UUID(int=1)


class FakePipeline:
    """Records the commands of a non-transactional pipeline and applies them on execute."""

    def __init__(self, redis: FakeRedis) -> None:
        self.redis = redis
        self.commands: list[tuple[str, tuple[Any, ...]]] = []

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def delete(self, *keys: str) -> None:
        self.commands.append(("delete", keys))

    def incr(self, key: str) -> None:
        self.commands.append(("incr", (key,)))

    async def execute(self) -> None:
        if self.redis.broken:
            raise RedisConnectionError("connection refused")
        self.redis.pipelined.append(self.commands)
        for name, args in self.commands:
            if name == "delete":
                for key in args:
                    self.redis.values.pop(key, None)
            else:
                self.redis.values[args[0]] = int(self.redis.values.get(args[0], 0)) + 1


class FakeRedis:
    """The few Redis commands the cache uses, in memory; ``broken`` makes each one fail."""

    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken
        self.values: dict[str, Any] = {}
        self.expiries: dict[str, int] = {}
        self.pipelined: list[list[tuple[str, tuple[Any, ...]]]] = []
        self.closed = False

    async def get(self, key: str) -> Any:
        if self.broken:
            raise RedisConnectionError("connection refused")
        return self.values.get(key)

    async def set(self, key: str, value: bytes, ex: int) -> None:
        if self.broken:
            raise OSError("network unreachable")
        self.values[key], self.expiries[key] = value, ex

    async def eval(self, _script: str, numkeys: int, *args: Any) -> int:
        """The cache's one script: set KEYS[2] only if KEYS[1] (the generation) equals ARGV[1]."""
        if self.broken:
            raise RedisConnectionError("connection refused")
        (generation_key, key), (expected, value, ttl) = args[:numkeys], args[numkeys:]
        if str(self.values.get(generation_key, 0)) != expected:
            return 0
        self.values[key], self.expiries[key] = value, int(ttl)
        return 1

    def pipeline(self, *, transaction: bool) -> FakePipeline:
        assert transaction is False
        return FakePipeline(self)

    async def aclose(self) -> None:
        self.closed = True


def _cache(redis: FakeRedis | None) -> ProductCache:
    return ProductCache(cast(Redis, redis), product_ttl=300, list_ttl=60)


def test_product_key_and_sku_key_are_namespaced() -> None:
    assert product_key(PRODUCT_ID) == f"catalog:product:{PRODUCT_ID}"
    assert sku_key("MUG-1") == "catalog:sku:MUG-1"


def test_product_cache_from_url_without_url_caches_nothing() -> None:
    assert ProductCache.from_url(None, product_ttl=1, list_ttl=1).redis is None


async def test_product_cache_from_url_with_url_has_client() -> None:
    cache = ProductCache.from_url("redis://127.0.0.1:1/0", product_ttl=1, list_ttl=1)

    assert isinstance(cache.redis, Redis)
    await cache.aclose()


async def test_product_cache_put_then_get_returns_value_with_ttl() -> None:
    redis = FakeRedis()
    cache = _cache(redis)

    await cache.put("catalog:product:x", b"{}", 300)

    assert await cache.get("catalog:product:x") == b"{}"
    assert redis.expiries["catalog:product:x"] == 300


async def test_product_cache_get_text_value_returns_bytes() -> None:
    redis = FakeRedis()
    redis.values["key"] = "{}"

    assert await _cache(redis).get("key") == b"{}"


async def test_product_cache_get_miss_returns_none() -> None:
    assert await _cache(FakeRedis()).get("catalog:product:missing") is None


async def test_product_cache_list_key_follows_generation() -> None:
    redis = FakeRedis()
    cache = _cache(redis)
    before = await cache.list_key("hash")

    await cache.invalidate(None, None)

    assert (before, await cache.list_key("hash")) == ("catalog:list:0:hash", "catalog:list:1:hash")


async def test_product_cache_invalidate_drops_product_keys_and_bumps_generation() -> None:
    redis = FakeRedis()
    cache = _cache(redis)
    await cache.put(product_key(PRODUCT_ID), b"{}", 300)
    await cache.put(sku_key("MUG-1"), b"{}", 300)

    await cache.invalidate(PRODUCT_ID, "MUG-1")

    assert redis.values == {GENERATION_KEY: 1}


async def test_product_cache_invalidate_without_product_only_bumps_generation() -> None:
    redis = FakeRedis()

    await _cache(redis).invalidate(None, None)

    assert redis.pipelined == [[("incr", (GENERATION_KEY,))]]


async def test_product_cache_without_redis_misses_and_ignores_writes() -> None:
    cache = _cache(None)

    await cache.put("key", b"{}", 300)
    await cache.invalidate(PRODUCT_ID, "MUG-1")
    await cache.aclose()

    assert await cache.get("key") is None
    assert await cache.list_key("hash") is None


async def test_product_cache_broken_redis_reads_miss_and_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = _cache(FakeRedis(broken=True))

    with caplog.at_level(logging.WARNING, logger="agora_catalog.services.cache"):
        results = (await cache.get("key"), await cache.list_key("hash"))

    assert results == (None, None)
    assert [record.message for record in caplog.records] == [
        "cache read failed: connection refused",
        "cache read failed: connection refused",
    ]


async def test_product_cache_broken_redis_writes_are_swallowed_and_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = _cache(FakeRedis(broken=True))

    with caplog.at_level(logging.WARNING, logger="agora_catalog.services.cache"):
        await cache.put("key", b"{}", 300)
        await cache.invalidate(PRODUCT_ID, "MUG-1")

    assert [record.message for record in caplog.records] == [
        "cache write failed: network unreachable",
        "cache invalidation failed: connection refused",
    ]


async def test_product_cache_aclose_closes_client() -> None:
    redis = FakeRedis()

    await _cache(redis).aclose()

    assert redis.closed
