"""The micro-cache: values kept for their TTL, one load per key at a time, failures not kept."""

from __future__ import annotations

import asyncio

import pytest

from agora_chassis.microcache import MicroCache


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts its loads; each answers the next number (after ``gate`` opens, when given)."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.calls = 0
        self.gate = gate

    async def __call__(self) -> int:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.calls


async def test_a_value_is_served_until_its_ttl_has_passed() -> None:
    clock, load = Clock(), Loader()
    cache: MicroCache[int] = MicroCache(2.0, clock=clock)
    assert await cache.get("k", load) == 1
    clock.now += 1.9
    assert await cache.get("k", load) == 1, "still fresh"
    clock.now += 0.2
    assert await cache.get("k", load) == 2, "expired: loaded again"
    assert await cache.get("other", load) == 3, "keys are apart"


async def test_concurrent_misses_of_one_key_load_it_once() -> None:
    gate = asyncio.Event()
    load = Loader(gate)
    cache: MicroCache[int] = MicroCache(2.0)
    waiting = [asyncio.create_task(cache.get("k", load)) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [1] * 20
    assert load.calls == 1


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    gate = asyncio.Event()
    cache: MicroCache[int] = MicroCache(2.0)

    async def broken() -> int:
        await gate.wait()
        raise ConnectionError("catalog down")

    first = asyncio.create_task(cache.get("k", broken))
    second = asyncio.create_task(cache.get("k", broken))
    await asyncio.sleep(0)
    gate.set()
    for task in (first, second):
        with pytest.raises(ConnectionError):
            await task
    assert await cache.get("k", Loader()) == 1, "the next request loads again"


async def test_a_cancelled_loader_leaves_its_waiters_to_load_themselves() -> None:
    gate = asyncio.Event()
    cache: MicroCache[int] = MicroCache(2.0)
    loading = asyncio.create_task(cache.get("k", Loader(gate)))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cache.get("k", Loader()))
    await asyncio.sleep(0)
    loading.cancel()
    assert await waiter == 1, "the waiter loaded it itself"
    with pytest.raises(asyncio.CancelledError):
        await loading


async def test_a_zero_ttl_turns_the_cache_off_and_entries_are_bounded() -> None:
    load = Loader()
    off: MicroCache[int] = MicroCache(0)
    assert [await off.get("k", load) for _ in range(3)] == [1, 2, 3]
    small: MicroCache[int] = MicroCache(60, max_entries=2)
    for key in ("a", "b", "c"):
        await small.get(key, Loader())
    again = Loader()
    assert await small.get("a", again) == 1
    assert again.calls == 1, "the oldest key was dropped"
    small.clear()
    assert await small.get("b", Loader()) == 1, "cleared"


async def test_a_waiter_that_gives_up_does_not_cancel_the_load() -> None:
    gate = asyncio.Event()
    load = Loader(gate)
    cache: MicroCache[int] = MicroCache(2.0)
    loading = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    impatient = asyncio.create_task(cache.get("k", Loader()))
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    gate.set()
    assert await loading == 1
    assert await cache.get("k", Loader()) == 1, "the load finished and was kept"
