"""Helpers for services' tests: a key source holding one test key, and tokens signed with it.

A service's API tests verify real EdDSA tokens without running identity::

    key = Ed25519PrivateKey.generate()
    service_state(app).verifier = TokenVerifier(StaticKeys(key), issuer=..., audience=...)
    headers = {"Authorization": f"Bearer {forge_access_token(key, roles=['admin'])}"}
"""

from __future__ import annotations

import datetime as dt
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from agora_chassis.auth import UnknownKeyError

TEST_KID = "test-key"
TOKEN_SECONDS = 600


class StaticKeys:
    """A key source (``KeySource``) holding the public half of one test key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        """Serve ``private_key``'s public key under the kid ``test-key``."""
        jwk = OKPAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        self._key = jwt.PyJWK(jwk | {"kid": TEST_KID, "alg": "EdDSA", "use": "sig"})

    async def get_key(self, kid: str) -> jwt.PyJWK:
        """The test key; any other kid is unknown."""
        if kid != TEST_KID:
            raise UnknownKeyError(kid)
        return self._key

    async def aclose(self) -> None:
        """Nothing to close."""


def forge_access_token(
    private_key: Ed25519PrivateKey,
    *,
    roles: list[str],
    scopes: list[str] | None = None,
    subject: uuid.UUID | None = None,
    issuer: str = "agora-identity",
    audience: str = "agora",
) -> str:
    """An access token as identity would issue it, signed with the test key.

    Args:
        private_key: The key :class:`StaticKeys` serves.
        roles: The ``roles`` claim.
        scopes: The granted scopes (the ``scope`` claim, space-separated); none when omitted.
        subject: The user id (random when omitted).
        issuer: The ``iss`` claim.
        audience: The ``aud`` claim.

    Returns:
        The compact JWT.
    """
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(subject or uuid.uuid4()),
        "iat": now,
        "exp": now + TOKEN_SECONDS,
        "roles": roles,
        "scope": " ".join(scopes or []),
        "token_use": "access",
    }
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": TEST_KID})
