"""Test helpers for authenticated gRPC: one signing key, service tokens signed with it."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from agora_chassis.auth import SERVICE_TOKEN_USE, TokenVerifier, UnknownKeyError

ISSUER = "agora-identity"
AUDIENCE = "agora"
KID = "grpc-test-key"
TOKEN_SECONDS = 300
KEY_FOR_TESTS = Ed25519PrivateKey.generate()
"""A signing key shared by the gRPC test suites (a fresh one each test session)."""


class OneKey:
    """A key source holding the public half of one key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        jwk = OKPAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        self._key = jwt.PyJWK(jwk | {"kid": KID, "alg": "EdDSA", "use": "sig"})

    async def get_key(self, kid: str) -> jwt.PyJWK:
        if kid != KID:
            raise UnknownKeyError(kid)
        return self._key

    async def aclose(self) -> None:
        """Nothing to close."""


def service_verifier(private_key: Ed25519PrivateKey) -> TokenVerifier:
    """A verifier of service tokens signed with ``private_key``."""
    return TokenVerifier(
        OneKey(private_key), issuer=ISSUER, audience=AUDIENCE, token_use=SERVICE_TOKEN_USE
    )


def service_token(private_key: Ed25519PrivateKey, **overrides: Any) -> str:
    """A service token as identity issues it; ``overrides`` replace claims (None drops one)."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "service:tester",
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_SECONDS,
        "roles": ["service"],
        "scope": "probe:call",
        "token_use": SERVICE_TOKEN_USE,
    } | overrides
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": KID})


class FixedToken:
    """A token provider always handing out the same token."""

    def __init__(self, token: str) -> None:
        self.value = token

    async def token(self) -> str:
        return self.value
