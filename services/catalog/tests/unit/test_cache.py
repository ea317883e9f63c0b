"""``ProductCache``: keys, generations, and failing open when Redis misbehaves."""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from types import TracebackType
from typing import Any, cast

import pytest
from cachetools import TTLCache
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from agora_catalog.services import cache as cache_module
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
        self.reads = 0

    async def get(self, key: str) -> Any:
        self.reads += 1
        if self.broken:
            raise RedisConnectionError("connection refused")
        value = self.values.get(key)
        # Redis answers bytes, an INCR'd counter included.
        return value if value is None or isinstance(value, bytes) else str(value).encode()

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
    assert product_key(PRODUCT_ID) == f"catalog:product:{PRODUCT_ID.hex}"
    assert sku_key("MUG-1") == "catalog:sku:MUG-1"


@pytest.mark.parametrize(
    "spelling",
    [str(PRODUCT_ID), str(PRODUCT_ID).upper(), PRODUCT_ID.hex, f"{{{PRODUCT_ID}}}", PRODUCT_ID.urn],
)
def test_product_key_is_one_key_for_every_spelling_of_an_id(spelling: str) -> None:
    # Keyed on the parsed UUID, not the path's text: a read by one spelling and an invalidation
    # by another must meet on the same key.
    assert product_key(uuid.UUID(spelling)) == product_key(PRODUCT_ID), spelling


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


# --- The near cache in front of Redis -----------------------------------------------------------

LOCAL_TTL = 1.0
KEY = "catalog:product:x"


class Clock:
    """The near cache's timer: seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class GatedRedis(FakeRedis):
    """A ``GET`` that reads its value, then waits for ``release``: a read still in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, key: str) -> Any:
        value = await super().get(key)
        self.entered.set()
        await self.release.wait()
        return value


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Near caches built from now on expire by this clock."""
    clock = Clock()
    monkeypatch.setattr(cache_module, "TTLCache", functools.partial(TTLCache, timer=clock))
    return clock


def _near_cache(redis: FakeRedis, *, budget: int = 100) -> ProductCache:
    return ProductCache(
        cast(Redis, redis), product_ttl=300, list_ttl=60, local_ttl=LOCAL_TTL, local_bytes=budget
    )


async def test_product_cache_near_second_get_is_served_without_redis(clock: Clock) -> None:
    redis = FakeRedis()
    redis.values[KEY] = b"v1"
    cache = _near_cache(redis)
    first = await cache.get(KEY)
    redis.values[KEY] = b"v2"  # changed behind the near cache's back

    second = await cache.get(KEY)

    assert (first, second, redis.reads) == (b"v1", b"v1", 1)


async def test_product_cache_near_value_expires_after_local_ttl(clock: Clock) -> None:
    redis = FakeRedis()
    redis.values[KEY] = b"v1"
    cache = _near_cache(redis)
    await cache.get(KEY)
    redis.values[KEY] = b"v2"

    clock.now = LOCAL_TTL - 0.01
    before = await cache.get(KEY)
    clock.now = LOCAL_TTL + 0.01
    after = await cache.get(KEY)

    assert (before, after) == (b"v1", b"v2")


async def test_product_cache_near_miss_is_not_kept(clock: Clock) -> None:
    redis = FakeRedis()
    cache = _near_cache(redis)
    missed = await cache.get(KEY)
    redis.values[KEY] = b"v1"

    assert (missed, await cache.get(KEY)) == (None, b"v1")


async def test_product_cache_near_holds_at_most_local_bytes(clock: Clock) -> None:
    redis = FakeRedis()
    redis.values |= {"a": b"a1", "b": b"b1"}
    cache = _near_cache(redis, budget=3)
    await cache.get("a")
    await cache.get("b")  # 2 + 2 bytes: pushes "a" out
    redis.values["a"] = b"a2"

    assert await cache.get("a") == b"a2", "the near cache held more bytes than its budget"


async def test_product_cache_near_serves_but_does_not_keep_a_value_over_budget(
    clock: Clock,
) -> None:
    redis = FakeRedis()
    redis.values[KEY] = b"a big list"
    cache = _near_cache(redis, budget=4)
    first = await cache.get(KEY)
    redis.values[KEY] = b"v2"

    assert (first, await cache.get(KEY), redis.reads) == (b"a big list", b"v2", 2)


async def test_product_cache_invalidate_drops_near_values(clock: Clock) -> None:
    redis = FakeRedis()
    redis.values[KEY] = b"v1"
    cache = _near_cache(redis)
    await cache.get(KEY)
    redis.values[KEY] = b"v2"  # a key the invalidation below leaves alone in Redis

    await cache.invalidate(None, None)

    assert await cache.get(KEY) == b"v2"


async def test_product_cache_invalidate_broken_redis_still_drops_near_values(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    redis = FakeRedis()
    redis.values[KEY] = b"v1"
    cache = _near_cache(redis)
    await cache.get(KEY)
    redis.values[KEY], redis.broken = b"v2", True

    with caplog.at_level(logging.WARNING, logger="agora_catalog.services.cache"):
        await cache.invalidate(PRODUCT_ID, "MUG-1")
    redis.broken = False

    assert await cache.get(KEY) == b"v2"
    assert [r.message for r in caplog.records] == ["cache invalidation failed: connection refused"]


async def test_product_cache_read_racing_invalidation_is_served_but_not_kept(
    clock: Clock,
) -> None:
    redis = GatedRedis()
    redis.values[KEY] = b"old"
    cache = _near_cache(redis)
    reading = asyncio.create_task(cache.get(KEY))
    await redis.entered.wait()  # the read has the old value and is still waiting on Redis

    await cache.invalidate(None, None)
    redis.values[KEY] = b"new"
    redis.release.set()

    assert await reading == b"old"
    assert await cache.get(KEY) == b"new"


async def test_product_cache_list_key_uses_near_generation_until_a_write(clock: Clock) -> None:
    redis = FakeRedis()
    redis.values[GENERATION_KEY] = b"4"
    cache = _near_cache(redis)
    first = await cache.list_key("hash")
    redis.values[GENERATION_KEY] = b"7"  # another replica wrote
    second = await cache.list_key("hash")

    await cache.invalidate(None, None)  # this replica writes: 8

    assert (first, second, await cache.list_key("hash")) == (
        "catalog:list:4:hash",
        "catalog:list:4:hash",
        "catalog:list:8:hash",
    )


async def test_product_cache_local_ttl_zero_keeps_nothing_near() -> None:
    redis = FakeRedis()
    redis.values |= {KEY: b"v1", GENERATION_KEY: b"1"}
    cache = _cache(redis)
    first = (await cache.get(KEY), await cache.list_key("hash"))
    redis.values |= {KEY: b"v2", GENERATION_KEY: b"2"}

    second = (await cache.get(KEY), await cache.list_key("hash"))

    assert (first, second) == ((b"v1", "catalog:list:1:hash"), (b"v2", "catalog:list:2:hash"))
    assert redis.reads == 4


async def test_product_cache_near_broken_redis_list_key_returns_none_and_keeps_nothing(
    clock: Clock,
) -> None:
    redis = FakeRedis(broken=True)
    redis.values[GENERATION_KEY] = b"3"
    cache = _near_cache(redis)
    failed = await cache.list_key("hash")

    redis.broken = False

    assert (failed, await cache.list_key("hash")) == (None, "catalog:list:3:hash")
