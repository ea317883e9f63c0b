"""The identity service's public signing keys, fetched from its JWKS endpoint and kept fresh.

:class:`JWKSCache` is the :class:`KeySource` of every service's token verifier (identity itself
reads its own key store). The chassis app starts its background refresh in
the lifespan; a request fetches only for a ``kid`` the cache does not know.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import httpx
import jwt

from agora_chassis.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

# Asymmetric only: JWKS keys are public, so an HMAC "key" would be a published secret.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
DEFAULT_JWKS_TTL_SECONDS = 300.0
# Keys are fetched again at 80% of their lifetime, so fresh keys are in place before they expire.
DEFAULT_JWKS_REFRESH_RATIO = 0.8
DEFAULT_MIN_REFRESH_INTERVAL_SECONDS = 10.0
JWKS_FETCH_TIMEOUT_SECONDS = 5.0


class UnknownKeyError(LookupError):
    """The JWKS has no usable key with the requested ``kid``."""


class KeySource(Protocol):
    """Where a :class:`TokenVerifier` gets public keys (:class:`JWKSCache`, or a local store)."""

    async def get_key(self, kid: str) -> jwt.PyJWK:
        """Return the public key named ``kid``; raise :class:`UnknownKeyError` if there is none."""
        ...

    async def aclose(self) -> None:
        """Release resources (HTTP clients)."""
        ...


class JWKSCache:
    """A cached copy of the identity service's public signing keys, refreshed in the background.

    :meth:`start` (the chassis app calls it at start-up) runs a task that fetches the keys at once
    and again every ``refresh_ratio * ttl_seconds``, so a request never waits for a refresh of keys
    it already has; after a failed fetch it tries again ``min_refresh_interval`` later and
    keeps serving the cached keys meanwhile. A request fetches only for a ``kid`` it does not know
    (key rotation, or no keys yet), and such fetches never happen more often than
    ``min_refresh_interval`` seconds, so tokens with made-up ``kid`` values cannot hammer identity.
    Concurrent fetches share one. Only with no keys at all does :meth:`get_key` raise
    :class:`ServiceUnavailable`.
    """

    def __init__(
        self,
        url: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        ttl_seconds: float = DEFAULT_JWKS_TTL_SECONDS,
        min_refresh_interval: float = DEFAULT_MIN_REFRESH_INTERVAL_SECONDS,
        refresh_ratio: float = DEFAULT_JWKS_REFRESH_RATIO,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Set up an empty cache; nothing is fetched until :meth:`start` or :meth:`get_key`.

        Args:
            url: The JWKS endpoint (``settings.jwks_url``).
            http_client: Client to fetch with; one is created (and owned) when ``None``.
            ttl_seconds: How long fetched keys are considered fresh.
            min_refresh_interval: Least time between two fetch attempts for unknown ``kid`` values,
                and the wait before the background task retries a failed fetch.
            refresh_ratio: Part of ``ttl_seconds`` after which the background task fetches again.
            clock: Seconds, monotonic (tests pass a fake one).
            sleep: How the background task waits (tests pass a fake one).
        """
        self.url = url
        self._client = http_client or httpx.AsyncClient(timeout=JWKS_FETCH_TIMEOUT_SECONDS)
        self._owns_client = http_client is None
        self._refresh_every = ttl_seconds * refresh_ratio
        self._min_interval = min_refresh_interval
        self._clock = clock
        self._sleep = sleep
        self._keys: dict[str, jwt.PyJWK] = {}
        self._attempted_at: float | None = None
        self._generation = 0
        self._last_fetch_failed = False
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background refresh task (again if it ended); needs a running event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._refresh_in_background(), name="jwks-refresh")

    async def get_key(self, kid: str) -> jwt.PyJWK:
        """Return the public key with id ``kid``, fetching the keys only when it is unknown.

        Args:
            kid: The ``kid`` from a token header.

        Returns:
            The key, with its algorithm in ``algorithm_name``.

        Raises:
            UnknownKeyError: The JWKS has no such key, even after a refresh.
            ServiceUnavailable: No keys could ever be fetched.
        """
        if kid not in self._keys:
            await self._refresh(rate_limited=True)
        if (key := self._keys.get(kid)) is not None:
            return key
        if not self._keys and self._last_fetch_failed:
            raise ServiceUnavailable("The signing keys cannot be fetched right now.")
        raise UnknownKeyError(kid)

    async def aclose(self) -> None:
        """Stop the background task, and close the HTTP client if this cache created it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._owns_client:
            await self._client.aclose()

    async def _refresh_in_background(self) -> None:
        while True:
            await self._refresh(rate_limited=False)
            failed = self._last_fetch_failed
            await self._sleep(self._min_interval if failed else self._refresh_every)

    async def _refresh(self, *, rate_limited: bool) -> None:
        # The generation counts finished fetches: a caller that queued behind a fetch which
        # finished meanwhile uses its result instead of fetching again.
        generation_seen = self._generation
        async with self._lock:
            if self._generation != generation_seen:
                return
            now = self._clock()
            recent = (
                self._attempted_at is not None and now - self._attempted_at < self._min_interval
            )
            if rate_limited and recent:
                return
            self._attempted_at = now
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                self._last_fetch_failed = True
                logger.warning(
                    "JWKS fetch from %s failed (%s); serving %d cached keys",
                    self.url,
                    type(exc).__name__,
                    len(self._keys),
                )
                return
            finally:
                self._generation += 1
            self._keys = keys
            self._last_fetch_failed = False

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        response = await self._client.get(self.url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("the JWKS document has no 'keys' list")  # noqa: TRY004
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document["keys"]:
            if (parsed := _parse_jwk(entry)) is not None:
                keys[parsed[0]] = parsed[1]
        return keys


def _parse_jwk(entry: object) -> tuple[str, jwt.PyJWK] | None:
    """Turn one JWKS entry into ``(kid, key)``, or ``None`` when it is unusable for verifying."""
    if not isinstance(entry, dict):
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
        return None
    try:
        key = jwt.PyJWK(entry)
    except jwt.PyJWTError:
        logger.warning("skipping JWKS key %r: not a usable public key", kid)
        return None
    if key.algorithm_name not in ASYMMETRIC_ALGORITHMS:
        logger.warning("skipping JWKS key %r: algorithm is not asymmetric", kid)
        return None
    return kid, key
