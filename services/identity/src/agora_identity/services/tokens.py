"""Issuing access and refresh tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from agora_chassis.auth import ACCESS_TOKEN_USE, TOKEN_USE_CLAIM
from agora_chassis.db import utcnow
from agora_chassis.ids import new_id
from agora_identity.models import RefreshToken, Role, User
from agora_identity.schemas.auth import TokenPair
from agora_identity.services.keys import KeyStore

REFRESH_TOKEN_BYTES = 48

# Admin write routes check a scope as well as the role: identity's user administration needs
# ``users:write``, catalog's product, category and stock administration ``catalog:write``. A login
# that asks for no scope gets all of its roles' scopes; one that asks gets only those it may have.
USERS_WRITE_SCOPE = "users:write"
CATALOG_WRITE_SCOPE = "catalog:write"
SCOPES_BY_ROLE: dict[str, frozenset[str]] = {
    Role.CUSTOMER: frozenset({"profile", "basket", "orders"}),
    Role.ADMIN: frozenset({"profile", "admin", USERS_WRITE_SCOPE, CATALOG_WRITE_SCOPE}),
}


@dataclass(frozen=True)
class TokenPolicy:
    """Who tokens are for and how long they live."""

    issuer: str
    audience: str
    access_ttl: dt.timedelta
    refresh_ttl: dt.timedelta


def hash_refresh_token(token: str) -> str:
    """The stored form of a refresh token (SHA-256; the token itself has 384 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def granted_scopes(roles: list[str], requested: list[str]) -> list[str]:
    """Scopes a user gets: what their roles allow, narrowed to what they asked for, if anything."""
    allowed = _allowed_scopes(roles)
    return sorted(allowed & set(requested) if requested else allowed)


def refreshed_scopes(roles: list[str], stored: str | None) -> list[str]:
    """Scopes a refresh issues: those granted at login, less any the roles no longer allow.

    Args:
        roles: The user's roles now.
        stored: The scopes stored with the refresh token; ``None`` for a token issued before
            scopes were stored, which gets what a login asking for no scope would get.

    Returns:
        The scopes, sorted.
    """
    if stored is None:
        return granted_scopes(roles, [])
    return sorted(_allowed_scopes(roles) & set(stored.split()))


def _allowed_scopes(roles: list[str]) -> set[str]:
    return set().union(*(SCOPES_BY_ROLE.get(role, frozenset()) for role in roles))


@dataclass(frozen=True)
class TokenIssuer:
    """Signs access tokens and mints refresh tokens."""

    keys: KeyStore
    policy: TokenPolicy

    def access_token(self, user: User, scopes: list[str]) -> str:
        """Sign an access token for ``user`` carrying its roles and ``scopes``."""
        now = utcnow()
        claims = {
            "iss": self.policy.issuer,
            "aud": self.policy.audience,
            "sub": str(user.id),
            "iat": now,
            "nbf": now,
            "exp": now + self.policy.access_ttl,
            "jti": str(new_id()),
            "roles": list(user.roles),
            "scope": " ".join(scopes),
            TOKEN_USE_CLAIM: ACCESS_TOKEN_USE,
        }
        return self.keys.sign(claims)

    def refresh_token(
        self, user: User, family_id: uuid.UUID, scopes: list[str]
    ) -> tuple[str, RefreshToken]:
        """Mint a refresh token; only its hash is stored, with the scopes it may renew."""
        token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
        record = RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_refresh_token(token),
            expires_at=utcnow() + self.policy.refresh_ttl,
            scopes=" ".join(scopes),
        )
        return token, record

    def pair(self, access_token: str, refresh_token: str) -> TokenPair:
        """The OAuth2 token response."""
        expires_in = int(self.policy.access_ttl.total_seconds())
        return TokenPair(
            access_token=access_token, refresh_token=refresh_token, expires_in=expires_in
        )
