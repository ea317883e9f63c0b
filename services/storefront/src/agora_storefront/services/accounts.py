"""Sign-in, registration, token refresh and sign-out, over identity's ``/api/v1/auth``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import cachetools

from agora_storefront.services.backends import Backend, Caller, body_of

# A page and an HTMX request (or two tabs) can both find the access token expired and present
# the same refresh token. Identity rotates it on first use and treats a second use as theft,
# revoking the whole session. So the pair a refresh returned is remembered, by the refresh token's
# digest, for the seconds such a race lasts: the second request gets the same new pair.
REFRESH_GRACE_SECONDS = 30
REFRESH_GRACE_ENTRIES = 10_000


@dataclass(frozen=True)
class TokenPair:
    """Identity's OAuth2 token response."""

    access_token: str
    refresh_token: str
    expires_in: int

    @classmethod
    def parse(cls, body: dict[str, Any]) -> TokenPair:
        """The pair in identity's answer."""
        return cls(body["access_token"], body["refresh_token"], int(body["expires_in"]))


class Accounts:
    """The shopper's account: what the login, register and logout pages ask identity."""

    def __init__(self, identity: Backend) -> None:
        self.identity = identity
        self._recent: cachetools.TTLCache[bytes, TokenPair] = cachetools.TTLCache(
            REFRESH_GRACE_ENTRIES, REFRESH_GRACE_SECONDS
        )

    async def sign_in(self, email: str, password: str, caller: Caller) -> TokenPair:
        """Exchange e-mail and password for tokens.

        Raises:
            SignInRequired: Wrong e-mail or password (401).
            Refused: Too many attempts (429) or a malformed form (422).
        """
        form = {"username": email, "password": password, "grant_type": "password"}
        response = await self.identity.send(
            "POST", "/api/v1/auth/token", caller, data=form, idempotent=False
        )
        return TokenPair.parse(body_of(response))

    async def register(self, email: str, password: str, full_name: str, caller: Caller) -> None:
        """Create a customer account.

        Raises:
            Refused: The address is taken (409) or a field is invalid (422, with field errors).
        """
        body = {"email": email, "password": password, "full_name": full_name}
        await self.identity.json("POST", "/api/v1/auth/register", caller, json=body)

    async def refresh(self, refresh_token: str, caller: Caller) -> TokenPair:
        """Rotate ``refresh_token`` (once per race: see :data:`REFRESH_GRACE_SECONDS`).

        Raises:
            SignInRequired: The refresh token is expired, revoked or unknown.
        """
        key = hashlib.sha256(refresh_token.encode()).digest()
        if (pair := self._recent.get(key)) is not None:
            return pair
        body = {"refresh_token": refresh_token}
        response = await self.identity.send(
            "POST", "/api/v1/auth/refresh", caller, json=body, idempotent=False
        )
        pair = TokenPair.parse(body_of(response))
        self._recent[key] = pair
        return pair

    async def sign_out(self, refresh_token: str, caller: Caller) -> None:
        """Revoke the session the refresh token belongs to (an unknown token is ignored)."""
        body = {"refresh_token": refresh_token}
        await self.identity.send("POST", "/api/v1/auth/logout", caller, json=body)
