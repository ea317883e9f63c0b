"""Access-token verification against the identity service's JWKS, and the FastAPI guards.

Identity signs access tokens with EdDSA (Ed25519) and publishes the public keys at
``/.well-known/jwks.json``; every service verifies tokens locally against a cached copy.

An access token must carry ``iss``, ``aud``, ``sub``, ``exp``, ``iat`` and the claim
``token_use: "access"`` (:data:`TOKEN_USE_CLAIM`, :data:`ACCESS_TOKEN_USE`); ``nbf`` is checked
when present. ``roles`` is a list of strings and ``scope`` a space-separated string; both may be
absent (no roles, no scopes). Any other ``token_use`` (``"refresh"``) is refused, so a refresh token
can never be replayed as an access token.

Wiring: ``create_service_app`` keeps the verifier in the app's ``ServiceState`` (and calls
``start()`` on the cache in its lifespan so the keys are refreshed in the background)::

    verifier = TokenVerifier(
        JWKSCache(settings.jwks_url), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )

Routes then take ``principal: CurrentPrincipal`` or ``Depends(require_roles("admin"))``.

A verified token is remembered until its ``exp`` (:class:`VerifiedToken`, ADR 0012): checking an
EdDSA signature and decoding the claims cost about 0.35 ms of CPU, most of a database-backed
read's budget, and a client sends the same access token with every request for 30 minutes.
Every refusal is logged at WARNING (reason, method, path; never the token) and handed to
``ServiceState.on_auth_refusal(reason, request)`` when a service sets that hook (audit log).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any

import cachetools
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agora_chassis.errors import AgoraError, Forbidden, Unauthorized

# The key sources moved to ``jwks``; re-exported (``X as X``) where services have imported them.
from agora_chassis.jwks import ASYMMETRIC_ALGORITHMS as ASYMMETRIC_ALGORITHMS  # noqa: PLC0414
from agora_chassis.jwks import JWKSCache as JWKSCache  # noqa: PLC0414
from agora_chassis.jwks import KeySource as KeySource  # noqa: PLC0414
from agora_chassis.jwks import UnknownKeyError as UnknownKeyError  # noqa: PLC0414
from agora_chassis.state import service_state

logger = logging.getLogger(__name__)

TOKEN_USE_CLAIM = "token_use"  # a claim name, not a secret  # noqa: S105  # nosec B105
ACCESS_TOKEN_USE = "access"  # a claim value, not a secret  # noqa: S105  # nosec B105
# Service tokens (client credentials) carry their own use, so a user-facing route never accepts
# one, and an internal gRPC API never accepts a user's token.
SERVICE_TOKEN_USE = "service"  # a claim value, not a secret  # noqa: S105  # nosec B105
_TOKEN_USE_NAMES = {ACCESS_TOKEN_USE: "an access token", SERVICE_TOKEN_USE: "a service token"}
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud", TOKEN_USE_CLAIM)
MAX_TOKEN_CHARS = 8192
DEFAULT_LEEWAY_SECONDS = 30
# Verified tokens remembered per verifier: about 2 KiB each, so at most ~8 MiB per process. One
# user's token is one entry for its 30 minutes; past the bound the least recently used goes.
DEFAULT_VERIFIED_CACHE_SIZE = 4096

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


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a successful verification leaves behind, to answer the same token again cheaply.

    Attributes:
        principal: The caller the token named.
        key: The very key object that verified the signature (see :meth:`TokenVerifier.verify`).
        kid: That key's id.
        expires_at: The token's ``exp``, in seconds since the epoch.
    """

    principal: Principal
    key: jwt.PyJWK
    kid: str
    expires_at: float


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
        token_use: str = ACCESS_TOKEN_USE,
        cache_size: int = DEFAULT_VERIFIED_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Configure the verifier.

        Args:
            jwks: Where the public keys come from.
            issuer: The only accepted ``iss``.
            audience: The ``aud`` the token must name.
            algorithms: Accepted signing algorithms; asymmetric ones only.
            leeway_seconds: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
            token_use: The only accepted ``token_use`` claim: :data:`ACCESS_TOKEN_USE` (user
                tokens, the REST API) or :data:`SERVICE_TOKEN_USE` (internal gRPC).
            cache_size: How many verified tokens to remember (0: verify every time).
            clock: Seconds since the epoch, compared with ``exp`` (tests pass a fake one).

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
        self._token_use = token_use
        self._clock = clock
        self._verified: cachetools.TLRUCache[bytes, VerifiedToken] | None = (
            cachetools.TLRUCache(cache_size, ttu=_until_expiry, timer=clock) if cache_size else None
        )

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
        digest = _digest(token)
        if digest is not None and (remembered := await self._remembered(digest)) is not None:
            return remembered
        kid, key = await self._key_for(token)
        claims = _decode(token, key, self._issuer, self._audience, self._leeway)
        if claims.get(TOKEN_USE_CLAIM) != self._token_use:
            raise Unauthorized(
                f"The token is not {_TOKEN_USE_NAMES.get(self._token_use, 'valid here')}."
            )
        principal = _principal_from(claims)
        if digest is not None and self._verified is not None:
            self._verified[digest] = VerifiedToken(principal, key, kid, float(claims["exp"]))
        return principal

    async def _remembered(self, digest: bytes) -> Principal | None:
        """The principal of a token verified before, while every check it passed still holds.

        Only successes are remembered, each under the SHA-256 of the token (the cache never holds
        a usable token), and only until its ``exp`` (the leeway past ``exp`` goes through the full
        check again, as before). The rest cannot change for the same token: its signature, issuer,
        audience, ``token_use`` and claims are in the bytes hashed, and ``nbf``/``iat``, once
        reached, stay reached. What can change is the key: the entry is used only while the key
        source still hands out the *same key object* that verified it, so a key withdrawn from the
        JWKS (or any refetch of the keys) sends the token through the full check again.
        """
        if self._verified is None or (entry := self._verified.get(digest)) is None:
            return None
        if not self._clock() < entry.expires_at:
            return None
        try:
            current = await self._jwks.get_key(entry.kid)
        except UnknownKeyError:
            current = None
        if current is not entry.key:
            self._verified.pop(digest, None)
            return None
        return entry.principal

    async def _key_for(self, token: str) -> tuple[str, jwt.PyJWK]:
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
        return kid, key


def _digest(token: object) -> bytes | None:
    """The cache key of a token that could be valid; ``None`` for one that cannot."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return hashlib.sha256(token.encode()).digest()


def _until_expiry(_digest: bytes, entry: VerifiedToken, _now: float) -> float:
    return entry.expires_at


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
    hook = service_state(request).on_auth_refusal
    if hook is not None and inspect.isawaitable(result := hook(reason, request)):
        await result


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the caller named by the ``Authorization: Bearer`` access token.

    Args:
        request: The current request, to an app built by ``create_service_app`` (its
            :class:`~agora_chassis.state.ServiceState` holds the :class:`TokenVerifier`).
        credentials: The bearer credentials, ``None`` when absent.

    Returns:
        The verified principal.

    Raises:
        Unauthorized: No bearer token, or the token is refused (401, ``WWW-Authenticate: Bearer``).
    """
    verifier = service_state(request).verifier
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
