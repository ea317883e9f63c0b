"""The JWKS cache refreshes in the background before the keys expire; requests never wait for it.

A real HTTP server (``http.server`` on a free loopback port) publishes the keys; the cache runs
on a fake clock and a fake sleep, so "time passing" is the test's decision, not the machine's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from agora_chassis.auth import JWKSCache, UnknownKeyError
from libs.chassis.tests.jwks_server import KeyServer, serving_keys

TTL_SECONDS = 100.0
MIN_INTERVAL_SECONDS = 10.0
WAIT_SECONDS = 10.0


class FakeTime:
    """A clock that moves only when told, and a sleep that returns only when woken."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._wake = asyncio.Event()
        self._slept = asyncio.Condition()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        async with self._slept:
            self.sleeps.append(seconds)
            self._slept.notify_all()
        self._wake.clear()
        await self._wake.wait()
        self.now += seconds

    def wake(self) -> None:
        self._wake.set()

    async def sleeping(self, times: int) -> None:
        """Return once the background task has gone to sleep ``times`` times."""
        async with asyncio.timeout(WAIT_SECONDS), self._slept:
            await self._slept.wait_for(lambda: len(self.sleeps) >= times)


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    with serving_keys() as server:
        yield server


@pytest.fixture
async def started(key_server: KeyServer) -> AsyncIterator[tuple[JWKSCache, FakeTime]]:
    fake = FakeTime()
    cache = JWKSCache(
        key_server.url,
        ttl_seconds=TTL_SECONDS,
        min_refresh_interval=MIN_INTERVAL_SECONDS,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    cache.start()
    await fake.sleeping(1)  # the start-up fetch is done
    yield cache, fake
    await cache.aclose()


async def test_jwks_cache_start_fetches_once_and_schedules_at_80_percent_of_ttl(
    started: tuple[JWKSCache, FakeTime], key_server: KeyServer
) -> None:
    cache, fake = started

    key = await cache.get_key("k1")

    assert key.key_id == "k1"
    assert key_server.requests == 1
    assert fake.sleeps == [TTL_SECONDS * 0.8]


async def test_jwks_cache_past_ttl_request_never_fetches(
    started: tuple[JWKSCache, FakeTime], key_server: KeyServer
) -> None:
    cache, fake = started
    fake.now += TTL_SECONDS * 10  # long past the keys' lifetime, the background task not woken

    for _ in range(5):
        await cache.get_key("k1")

    assert key_server.requests == 1


async def test_jwks_cache_background_refresh_brings_new_keys_without_a_request_fetch(
    started: tuple[JWKSCache, FakeTime], key_server: KeyServer
) -> None:
    cache, fake = started
    key_server.publish("k2")

    fake.wake()  # the 80% point is reached
    await fake.sleeping(2)
    key_server.up = False  # from now on, a request fetching would get no keys
    key = await cache.get_key("k2")

    assert key.key_id == "k2"
    assert key_server.requests == 2


async def test_jwks_cache_background_failure_keeps_keys_and_retries_after_min_interval(
    started: tuple[JWKSCache, FakeTime], key_server: KeyServer
) -> None:
    cache, fake = started
    key_server.up = False

    fake.wake()
    await fake.sleeping(2)
    key = await cache.get_key("k1")

    assert key.key_id == "k1"
    assert fake.sleeps[-1] == MIN_INTERVAL_SECONDS
    assert key_server.requests == 2


async def test_jwks_cache_unknown_kid_fetches_at_most_once_per_min_interval(
    started: tuple[JWKSCache, FakeTime], key_server: KeyServer
) -> None:
    cache, fake = started
    fake.now += MIN_INTERVAL_SECONDS

    for attempt in range(3):
        with pytest.raises(UnknownKeyError):
            await cache.get_key(f"forged-{attempt}")

    assert key_server.requests == 2
