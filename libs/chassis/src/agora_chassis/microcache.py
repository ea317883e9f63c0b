"""A per-process micro-cache for a caller's reads of data that is the same for everyone.

Why it exists: a page of the storefront is built from other services' public reads (catalog's
category tree and product lists). Asked afresh for every page, those two HTTP calls were most of a
page's cost (benchmarks/README.md, the storefront section): the storefront spent about half its CPU
in the HTTP client and catalog rebuilt its category tree for every page. Most shoppers ask for the
same few pages, whose answers change rarely, and a second's delay in showing a new price or stock
figure on a listing is harmless: the basket prices every line again and ordering prices the order
when it is placed. So a caller may remember such an answer for a second or two.

The rules, which :mod:`tests.test_microcache` pins:

* **Only reads whose answer does not depend on the caller** (no user, no cookie in the key): the
  caller decides, and says why where it uses the cache. The storefront's integration tests fail
  if catalog ever answers a signed-in shopper differently from a guest.
* **Single flight**: when many requests miss the same key at once, one loads it and the others
  wait for that answer, so a burst costs the called service one call, not one per request.
* **Failures are never remembered**: a load that raises reaches every waiter and the next request
  tries again (the chassis's service client and breaker decide about the called service).
* **Bounded**: at most ``max_entries`` keys, least recently used first out; ``ttl_seconds`` of 0
  turns the cache off (every call loads).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable

from cachetools import TLRUCache

Clock = Callable[[], float]
DEFAULT_MAX_ENTRIES = 1024


class MicroCache[V]:
    """Remember loaded values for ``ttl_seconds``, loading each missing key once at a time.

    Args:
        ttl_seconds: How long a loaded value is served (0: never kept).
        max_entries: Most keys kept.
        clock: Monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._values: TLRUCache[Hashable, V] = TLRUCache(
            max_entries, ttu=lambda _key, _value, now: now + ttl_seconds, timer=clock
        )
        self._loading: dict[Hashable, asyncio.Future[V]] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The value of ``key``: remembered, being loaded by another request, or loaded now.

        Raises:
            Exception: Whatever ``load`` raised (for this request and every one waiting on it).
        """
        if self.ttl_seconds <= 0:
            return await load()
        try:
            return self._values[key]
        except KeyError:
            pass
        if (pending := self._loading.get(key)) is not None:
            try:
                return await asyncio.shield(pending)  # a waiter's cancellation spares the load
            except asyncio.CancelledError:
                if not pending.cancelled() or _being_cancelled():
                    raise
            # The request that was loading it was cancelled (its client left): load it here.
        return await self._load(key, load)

    async def _load(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        else:
            self._values[key] = value
            future.set_result(value)
            return value
        finally:
            del self._loading[key]

    def clear(self) -> None:
        """Forget every remembered value (loads in flight finish and are kept)."""
        self._values.clear()


def _being_cancelled() -> bool:
    """Whether the current task itself is being cancelled (not only what it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
