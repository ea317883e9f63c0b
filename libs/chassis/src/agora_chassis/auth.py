"""Access-token verification against the identity service's JWKS, and the FastAPI guards.

Identity signs access tokens with EdDSA (Ed25519) and publishes the public keys at
``/.well-known/jwks.json``; every service verifies tokens locally against a cached copy.

An access token must carry ``iss``, ``aud``, ``sub``, ``exp``, ``iat`` and the claim
``token_use: "access"`` (:data:`TOKEN_USE_CLAIM`, :data:`ACCESS_TOKEN_USE`); ``nbf`` is checked
when present. ``roles`` is a list of strings and ``scope`` a space-separated string; both may be
absent (no roles, no scopes). Any other ``token_use`` (``"refresh"``) is refused, so a refresh token
can never be replayed as an access token.

Wiring, in a service's app factory (the chassis app does this, and calls ``start()`` on the cache
in its lifespan so the keys are refreshed in the background)::

    app.state.token_verifier = TokenVerifier(
        JWKSCache(settings.jwks_url), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )

Routes then take ``principal: CurrentPrincipal`` or ``Depends(require_roles("admin"))``.
Every refusal is logged at WARNING (reason, method, path; never the token) and handed to
``app.state.on_auth_refusal(reason, request)`` when a service sets that hook (audit log).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Protocol

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agora_chassis.errors import AgoraError, Forbidden, ServiceUnavailable, Unauthorized

logger = logging.getLogger(__name__)

TOKEN_USE_CLAIM = "token_use"  # a claim name, not a secret  # noqa: S105  # nosec B105
ACCESS_TOKEN_USE = "access"  # a claim value, not a secret  # noqa: S105  # nosec B105
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud", TOKEN_USE_CLAIM)
# Asymmetric only: JWKS keys are public, so an HMAC "key" would be a published secret.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
MAX_TOKEN_CHARS = 8192
DEFAULT_JWKS_TTL_SECONDS = 300.0
# Keys are fetched again at 80% of their lifetime, so fresh keys are in place before they expire.
DEFAULT_JWKS_REFRESH_RATIO = 0.8
DEFAULT_MIN_REFRESH_INTERVAL_SECONDS = 10.0
DEFAULT_LEEWAY_SECONDS = 30
JWKS_FETCH_TIMEOUT_SECONDS = 5.0

RefusalHook = Callable[[str, Request], Awaitable[None] | None]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, built from a verified access token.

    Attributes:
        subject: The user id (``sub``).
        roles: The caller's roles (``roles`` claim).
        scopes: The granted scopes (``scope`` claim, split on spaces).
        claims: Every verified claim, read-only.
    """

    subject: str
    roles: frozenset[str]
    scopes: frozenset[str]
    claims: Mapping[str, Any]

    def has_role(self, role: str) -> bool:
        """Tell whether the caller holds ``role``.

        Args:
            role: A role name such as ``"admin"``.

        Returns:
            ``True`` when the role is among the caller's roles.
        """
        return role in self.roles

    def has_any_role(self, *roles: str) -> bool:
        """Tell whether the caller holds at least one of ``roles``.

        Args:
            *roles: Role names.

        Returns:
            ``True`` when any of the roles matches.
        """
        return not self.roles.isdisjoint(roles)

    def has_scopes(self, *scopes: str) -> bool:
        """Tell whether the caller was granted every one of ``scopes``.

        Args:
            *scopes: Scope names.

        Returns:
            ``True`` when all of the scopes were granted.
        """
        return self.scopes.issuperset(scopes)


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


class TokenVerifier:
    """Verifies access tokens and turns them into a :class:`Principal`.

    The header is checked before any key is used: its ``alg`` must be in the allow-list and match
    the key the ``kid`` names, so a token can never choose its own algorithm (``none``, or HS256
    keyed with the public key).
    """

    def __init__(
        self,
        jwks: KeySource,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = ("EdDSA",),
        leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
    ) -> None:
        """Configure the verifier.

        Args:
            jwks: Where the public keys come from.
            issuer: The only accepted ``iss``.
            audience: The ``aud`` the token must name.
            algorithms: Accepted signing algorithms; asymmetric ones only.
            leeway_seconds: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``.

        Raises:
            ValueError: ``algorithms`` is empty or names a symmetric or unknown algorithm.
        """
        if not algorithms or not set(algorithms) <= ASYMMETRIC_ALGORITHMS:
            raise ValueError(f"algorithms must be a non-empty subset of {ASYMMETRIC_ALGORITHMS}")
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._algorithms = frozenset(algorithms)
        self._leeway = leeway_seconds

    async def verify(self, token: str) -> Principal:
        """Verify ``token`` and return who it was issued to.

        Args:
            token: The compact JWT (without the ``Bearer`` prefix).

        Returns:
            The principal the token names.

        Raises:
            Unauthorized: The token is malformed, forged, expired, not yet valid, for another
                issuer or audience, missing a required claim, or not an access token.
            ServiceUnavailable: The signing keys cannot be fetched and none are cached.
        """
        key = await self._key_for(token)
        claims = _decode(token, key, self._issuer, self._audience, self._leeway)
        if claims.get(TOKEN_USE_CLAIM) != ACCESS_TOKEN_USE:
            raise Unauthorized("The token is not an access token.")
        return _principal_from(claims)

    async def _key_for(self, token: str) -> jwt.PyJWK:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("The token is malformed.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("The token is malformed.") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise Unauthorized("The token's signing algorithm is not accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("The token does not name its signing key.")
        try:
            key = await self._jwks.get_key(kid)
        except UnknownKeyError:
            raise Unauthorized("The token's signing key is unknown.") from None
        if key.algorithm_name != algorithm:
            raise Unauthorized("The token's signing algorithm is not accepted.")
        return key


_DECODE_REFUSALS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "The token has expired."),
    (jwt.ImmatureSignatureError, "The token is not valid yet."),
    (jwt.InvalidIssuerError, "The token was not issued by a trusted issuer."),
    (jwt.InvalidAudienceError, "The token is not meant for this audience."),
    (jwt.InvalidSignatureError, "The token's signature is invalid."),
    (jwt.DecodeError, "The token is malformed."),
)


def _decode(token: str, key: jwt.PyJWK, issuer: str, audience: str, leeway: int) -> dict[str, Any]:
    """Check the signature and registered claims; map every failure to ``Unauthorized``."""
    try:
        return jwt.decode(
            token,
            key=key.key,
            algorithms=[key.algorithm_name],
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"The token is missing the '{exc.claim}' claim.") from None
    except jwt.PyJWTError as exc:
        detail = next(
            (text for kind, text in _DECODE_REFUSALS if isinstance(exc, kind)),
            "The token is invalid.",
        )
        raise Unauthorized(detail) from None


def _principal_from(claims: dict[str, Any]) -> Principal:
    subject, roles, scope = claims["sub"], claims.get("roles", []), claims.get("scope", "")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("The token's subject is invalid.")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise Unauthorized("The token's roles claim is invalid.")
    if not isinstance(scope, str):
        raise Unauthorized("The token's scope claim is invalid.")
    return Principal(
        subject=subject,
        roles=frozenset(roles),
        scopes=frozenset(scope.split()),
        claims=MappingProxyType(claims),
    )


_bearer = HTTPBearer(auto_error=False, description="An access token from the identity service.")


async def _report_refusal(request: Request, reason: str) -> None:
    logger.warning("request refused on %s %s: %s", request.method, request.url.path, reason)
    hook: RefusalHook | None = getattr(request.app.state, "on_auth_refusal", None)
    if hook is not None and inspect.isawaitable(result := hook(reason, request)):
        await result


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the caller named by the ``Authorization: Bearer`` access token.

    Args:
        request: The current request; ``app.state.token_verifier`` must hold a
            :class:`TokenVerifier`.
        credentials: The bearer credentials, ``None`` when absent.

    Returns:
        The verified principal.

    Raises:
        Unauthorized: No bearer token, or the token is refused (401, ``WWW-Authenticate: Bearer``).
    """
    verifier: TokenVerifier = request.app.state.token_verifier
    if credentials is None:
        await _report_refusal(request, "no bearer token")
        raise Unauthorized("A bearer access token is required.")
    try:
        return await verifier.verify(credentials.credentials)
    except AgoraError as exc:
        await _report_refusal(request, exc.detail)
        raise


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """Build a dependency that admits callers holding ANY of ``roles``.

    Any-of because roles are alternatives (``require_roles("admin", "support")``); use
    :func:`require_scopes` when every item is needed.

    Args:
        *roles: Accepted roles; at least one.

    Returns:
        A dependency returning the :class:`Principal`, or raising :class:`Forbidden` (403).

    Raises:
        ValueError: No role was given.
    """
    if not roles:
        raise ValueError("require_roles needs at least one role")

    async def _require_roles(request: Request, principal: CurrentPrincipal) -> Principal:
        if not principal.has_any_role(*roles):
            await _report_refusal(request, f"missing role (one of {sorted(roles)})")
            raise Forbidden("The caller does not have a role this action needs.")
        return principal

    return _require_roles


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """Build a dependency that admits callers granted ALL of ``scopes``.

    Args:
        *scopes: Needed scopes; at least one.

    Returns:
        A dependency returning the :class:`Principal`, or raising :class:`Forbidden` (403).

    Raises:
        ValueError: No scope was given.
    """
    if not scopes:
        raise ValueError("require_scopes needs at least one scope")

    async def _require_scopes(request: Request, principal: CurrentPrincipal) -> Principal:
        if not principal.has_scopes(*scopes):
            await _report_refusal(request, f"missing scope (all of {sorted(scopes)})")
            raise Forbidden("The caller was not granted a scope this action needs.")
        return principal

    return _require_scopes
