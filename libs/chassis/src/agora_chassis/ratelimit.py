"""Rate limiting on the ``limits`` library, in memory or in Redis.

The strategy is the **moving window**: a limit such as ``"5/minute"`` allows at most five hits in
any 60-second span, with no burst of ten around a fixed window's boundary (which matters for login
guessing). ``Retry-After`` is the time until the oldest hit in the window leaves it, at least 1 s.

The limiter **never fails open**: when the storage (Redis) cannot be reached, hits are counted in
this process's memory instead (the same moving window), a warning is logged (at most once per
:data:`FALLBACK_LOG_INTERVAL_SECONDS`) and :attr:`RateLimiter.degraded` is true, which readiness
reports. Redis is tried again after :data:`STORAGE_RETRY_SECONDS`. A Redis outage then costs the
limits their exactness across replicas (each replica counts its own), never the limits themselves:
login guessing stays throttled.

Wiring: ``create_service_app`` keeps both limiters in the app's ``ServiceState`` (and closes the
Redis one on shutdown)::

    rate_limiter = RateLimiter(settings.redis_url)
    local_rate_limiter = LocalRateLimiter()

and on a route: ``dependencies=[Depends(rate_limit("5/minute"))]``. Budgets that guard something
(login guessing) are counted in Redis, exactly across replicas. The coarse per-client budget of the
whole API is :class:`ApiBudgetMiddleware`, a token bucket in each process
(:class:`LocalRateLimiter`; a Redis round trip on every request would cost a cached read more than
a third of its CPU), checked before routing (a route dependency would cost more than the check).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import TypeVar

import limits
from fastapi import Request
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.util import WindowStats
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from agora_chassis.client_address import (
    NO_PROXIES,
    TrustedProxies,
    client_ip,
    scope_client_ip,
)
from agora_chassis.errors import TooManyRequests, problem_for
from agora_chassis.state import service_state

logger = logging.getLogger(__name__)

T = TypeVar("T")

MEMORY_STORAGE_URI = "async+memory://"
KEY_PREFIX = "agora-ratelimit"
REDIS_CONNECT_TIMEOUT_SECONDS = 0.5
REDIS_COMMAND_TIMEOUT_SECONDS = 1.0
FALLBACK_LOG_INTERVAL_SECONDS = 60.0
# While Redis is unreachable, hits skip it for this long instead of paying a connect per request.
STORAGE_RETRY_SECONDS = 5.0
NANOSECONDS = 1_000_000_000
API_BUDGET = "api"
# Health, metrics and the docs stay reachable when a client has spent its budget.
UNLIMITED_PATHS = ("/health", "/metrics", "/docs", "/redoc", "/openapi.json")

_SCHEMES = {
    "memory": "async+memory",
    "redis": "async+redis",
    "rediss": "async+rediss",
    "redis+unix": "async+redis+unix",
}
_STORAGE_ERRORS = (StorageError, RedisError, OSError, TimeoutError)


def _async_storage_uri(storage_uri: str | None) -> str:
    """Map a settings URL (``redis://...``, ``None``) to the ``limits`` async storage URI."""
    if storage_uri is None:
        return MEMORY_STORAGE_URI
    scheme, separator, rest = storage_uri.partition("://")
    if not separator:
        raise ValueError(f"not a storage URL: {storage_uri!r}")
    if scheme.startswith("async+"):
        return storage_uri
    if scheme not in _SCHEMES:
        raise ValueError(f"unsupported rate-limit storage scheme: {scheme!r}")
    return f"{_SCHEMES[scheme]}://{rest}"


@lru_cache(maxsize=256)
def _parse(limit: str) -> limits.RateLimitItem:
    return limits.parse(limit)


def validate_limit(limit: str) -> str:
    """Check a ``limits`` expression, for settings validators (fail at start, not on a request).

    Args:
        limit: An expression such as ``"5/minute"`` or ``"100/hour"``.

    Returns:
        ``limit`` unchanged.

    Raises:
        ValueError: It is not a valid expression.
    """
    _parse(limit)
    return limit


@lru_cache(maxsize=256)
def _bucket(limit: str) -> tuple[int, int]:
    """A token bucket's period and the interval between tokens, in integer nanoseconds.

    Integers: a burst adds the interval up to ``amount`` times, which floats do inexactly.
    """
    item = _parse(limit)
    period = item.get_expiry() * NANOSECONDS
    return period, period // item.amount


class RateLimiter:
    """Counts hits per limit and key, and refuses the ones over the limit.

    Counted in ``storage_uri`` (Redis: exact across replicas), or in process memory while that
    storage is unreachable (see the module docstring).
    """

    def __init__(
        self, storage_uri: str | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Open the storage (lazily: Redis is contacted on the first hit).

        Args:
            storage_uri: ``None`` for process memory (tests, one replica), or a Redis URL
                (``redis://``, ``rediss://``; ``async+`` forms are accepted as they are).
            clock: Seconds, monotonic; paces the retries of an unreachable storage.

        Raises:
            ValueError: The URL's scheme is not supported.
        """
        uri = _async_storage_uri(storage_uri)
        options: dict[str, float | str | bool] = {}
        if not uri.startswith(MEMORY_STORAGE_URI):
            options = {
                "implementation": "redispy",
                "key_prefix": KEY_PREFIX,
                "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_COMMAND_TIMEOUT_SECONDS,
            }
        self.storage = _async_storage(uri, options)
        self._strategy = MovingWindowRateLimiter(self.storage)
        self._fallback = MovingWindowRateLimiter(_async_storage(MEMORY_STORAGE_URI, {}))
        self._clock = clock
        self._down_until: float | None = None  # the storage is skipped until then
        self._warned_at: float | None = None

    @property
    def degraded(self) -> bool:
        """Whether hits are being counted in process memory because the storage is unreachable."""
        return self._down_until is not None

    async def probe(self) -> None:
        """Readiness probe: raise while the limiter counts in memory instead of its storage.

        Raises:
            RuntimeError: The storage was unreachable at the last attempt.
        """
        if self.degraded:
            raise RuntimeError("rate-limit storage unreachable; counting in process memory")

    async def hit(self, limit: str, *keys: str) -> None:
        """Count one hit against ``limit`` for ``keys``.

        Args:
            limit: A ``limits`` expression such as ``"5/minute"``.
            *keys: What the limit is per (``"login"``, an IP, an account id...).

        Raises:
            TooManyRequests: The limit is exhausted; ``retry_after`` says for how long.
        """
        item = _parse(limit)

        async def refused_window(strategy: MovingWindowRateLimiter) -> WindowStats | None:
            if await strategy.hit(item, *keys):
                return None
            return await strategy.get_window_stats(item, *keys)

        stats = await self._run(refused_window)
        if stats is None:
            return
        retry_after = max(math.ceil(stats.reset_time - time.time()), 1)
        raise TooManyRequests(retry_after, "Too many requests; try again later.")

    async def test(self, limit: str, *keys: str) -> bool:
        """Tell whether one more hit would be allowed, without counting one.

        Args:
            limit: A ``limits`` expression.
            *keys: What the limit is per.

        Returns:
            ``True`` when a hit would pass (counted in memory while the storage is down).
        """
        item = _parse(limit)
        return await self._run(lambda strategy: strategy.test(item, *keys))

    async def remaining(self, limit: str, *keys: str) -> int:
        """Count the hits still allowed in the current window, without counting one.

        Args:
            limit: A ``limits`` expression.
            *keys: What the limit is per.

        Returns:
            Hits left (counted in memory while the storage is down).
        """
        item = _parse(limit)
        stats = await self._run(lambda strategy: strategy.get_window_stats(item, *keys))
        return max(int(stats.remaining), 0)

    async def reset(self, limit: str, *keys: str) -> None:
        """Forget every hit against ``limit`` for ``keys`` (after a successful login, say).

        Both the storage and the in-memory fallback forget them.

        Args:
            limit: The same expression the hits were counted with.
            *keys: The same keys the hits were counted with.
        """
        item = _parse(limit)
        await self._fallback.clear(item, *keys)
        await self._run(lambda strategy: strategy.clear(item, *keys))

    async def aclose(self) -> None:
        """Close the Redis connections; call it when the app shuts down."""
        # limits has no public close; its Redis bridge keeps the redis-py client at ``.storage``.
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()

    async def _run(self, operation: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        """``operation`` on the storage, or on the in-memory fallback while the storage is down."""
        strategy = self._current()
        try:
            result = await operation(strategy)
        except _STORAGE_ERRORS as exc:
            self._storage_failed(exc)
            return await operation(self._fallback)
        self._storage_worked(strategy)
        return result

    def _current(self) -> MovingWindowRateLimiter:
        """The storage's strategy, or the fallback while the storage is being skipped."""
        if self._down_until is not None and self._clock() < self._down_until:
            return self._fallback
        return self._strategy

    def _storage_worked(self, strategy: MovingWindowRateLimiter) -> None:
        if strategy is self._strategy and self._down_until is not None:
            self._down_until = None
            logger.info("rate-limit storage reachable again; counting there")

    def _storage_failed(self, exc: BaseException) -> None:
        now = self._clock()
        self._down_until = now + STORAGE_RETRY_SECONDS
        if self._warned_at is None or now - self._warned_at >= FALLBACK_LOG_INTERVAL_SECONDS:
            self._warned_at = now
            logger.warning(
                "rate-limit storage unavailable (%s); counting in process memory",
                type(exc).__name__,
            )


def _async_storage(uri: str, options: dict[str, float | str | bool]) -> Storage:
    storage = limits.storage.storage_from_string(uri, wrap_exceptions=True, **options)
    if not isinstance(storage, Storage):  # pragma: no cover - every URI gets an async+ scheme
        raise ValueError(f"not an async storage: {uri!r}")  # noqa: TRY004
    return storage


class LocalRateLimiter:
    """A token bucket per limit and key in this process's memory: no I/O on the request's path.

    ``"300/minute"`` allows a burst of 300 hits, refilled at 300 per minute (GCRA, the generic
    cell rate algorithm: one "theoretical arrival time" per key, so each hit is O(1)). Unlike the
    moving window it can let nearly twice the amount through in one period, after a full bucket;
    that suits a coarse flood guard, not a guard against guessing. Keys whose bucket is full again
    are forgotten, so memory follows the clients seen in the last period.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Start with every bucket full.

        Args:
            clock: Seconds, monotonic (tests pass a fake one).
        """
        self._clock = clock
        self._arrivals: dict[tuple[str, ...], int] = {}  # per key, in nanoseconds
        self._next_sweep = 0

    async def hit(self, limit: str, *keys: str) -> None:
        """Take one token for ``keys`` from the bucket of ``limit``.

        Args:
            limit: A ``limits`` expression such as ``"300/minute"``.
            *keys: What the limit is per.

        Raises:
            TooManyRequests: The bucket is empty; ``retry_after`` says when a token is back.
        """
        period, interval = _bucket(limit)
        now = round(self._clock() * NANOSECONDS)
        self._sweep(now, period)
        key = (limit, *keys)
        arrival = max(self._arrivals.get(key, now), now)
        wait = arrival + interval - now - period  # > 0: the bucket is empty
        if wait > 0:
            retry_after = max(math.ceil(wait / NANOSECONDS), 1)
            raise TooManyRequests(retry_after, "Too many requests; try again later.")
        self._arrivals[key] = arrival + interval

    def _sweep(self, now: int, period: int) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + period
        self._arrivals = {key: at for key, at in self._arrivals.items() if at > now}


def rate_limit(
    limit: str,
    key: Callable[[Request], str] = client_ip,
    *,
    scope: str | None = None,
    shared: bool = True,
) -> Callable[[Request], Awaitable[None]]:
    """Build a dependency that counts one hit per request against ``limit``.

    Hits are counted per ``scope`` (default: the route's path template, so two routes never share
    a budget) and per ``key(request)`` (default: :func:`client_ip`). The limiter is the app's
    ``ServiceState.rate_limiter`` (Redis: one budget across the service's replicas), or with
    ``shared=False`` its ``local_rate_limiter`` (a :class:`LocalRateLimiter`: a
    budget per replica, but no round trip to Redis on the request's path).

    Args:
        limit: A ``limits`` expression such as ``"5/minute"``; checked here, at import time.
        key: What the limit is per.
        scope: Name of the budget; routes sharing a scope share the budget.
        shared: Count in Redis (exact across replicas) rather than in this process.

    Returns:
        The dependency; it raises :class:`TooManyRequests` (429 with ``Retry-After``).
    """
    _parse(limit)

    async def _rate_limit(request: Request) -> None:
        state = service_state(request)
        limiter = state.rate_limiter if shared else state.local_rate_limiter
        route = request.scope.get("route")
        budget = scope or getattr(route, "path", None) or request.url.path
        await limiter.hit(limit, budget, key(request))

    return _rate_limit


def _unlimited(path: str, prefixes: tuple[str, ...]) -> bool:
    return path.startswith(prefixes) and any(
        path == prefix or path.startswith(prefix + "/") for prefix in prefixes
    )


class ApiBudgetMiddleware:
    """Count every request but the operational ones against one budget per client.

    The whole API shares the budget ``limit`` (per client address, in ``limiter``); requests to
    ``unlimited`` paths and their sub-paths are not counted. Over budget, the answer is the same
    429 Problem Details (with ``Retry-After``) a :func:`rate_limit` dependency gives; it is built
    here because the app's exception handlers sit inside the middleware stack. A pure ASGI
    middleware rather than a dependency on every router: FastAPI spends more resolving a
    dependency than the token bucket spends counting (ADR 0007).

    Args:
        app: The ASGI application to wrap.
        limit: A ``limits`` expression such as ``"300/minute"``; checked here.
        limiter: Where hits are counted (a :class:`LocalRateLimiter`: no I/O per request).
        unlimited: Path prefixes that are not counted.
        trusted_proxies: Whose ``X-Forwarded-For`` names the client (default: nobody's).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: str,
        limiter: LocalRateLimiter | RateLimiter,
        unlimited: Sequence[str] = UNLIMITED_PATHS,
        trusted_proxies: TrustedProxies = NO_PROXIES,
    ) -> None:
        _parse(limit)
        self.app = app
        self.limit = limit
        self.limiter = limiter
        self.unlimited = tuple(unlimited)
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http" or _unlimited(scope["path"], self.unlimited):
            await self.app(scope, receive, send)
            return
        try:
            await self.limiter.hit(
                self.limit, API_BUDGET, scope_client_ip(scope, self.trusted_proxies)
            )
        except TooManyRequests as exc:
            await problem_for(exc, scope["path"])(scope, receive, send)
            return
        await self.app(scope, receive, send)
