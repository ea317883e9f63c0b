"""The verified-token cache (ADR 0012): a token is answered from memory only while every check it
passed still holds: never at or past its ``exp``, never after its key was withdrawn or replaced."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agora_chassis.auth import TokenVerifier, UnknownKeyError
from agora_chassis.errors import Unauthorized

ISSUER = "agora-identity"
AUDIENCE = "agora"
HOUR = 3600


class KeyRing:
    """A key source whose keys the test withdraws or replaces, as a JWKS refresh would."""

    def __init__(self) -> None:
        self.keys: dict[str, jwt.PyJWK] = {}

    def publish(self, kid: str, key: Ed25519PrivateKey) -> None:
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.keys[kid] = jwt.PyJWK(jwk | {"kid": kid, "alg": "EdDSA", "use": "sig"})

    async def get_key(self, kid: str) -> jwt.PyJWK:
        try:
            return self.keys[kid]
        except KeyError:
            raise UnknownKeyError(kid) from None

    async def aclose(self) -> None:
        """Nothing to release."""


def sign(key: Ed25519PrivateKey, kid: str = "k1", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + HOUR,
        "roles": ["customer"],
        "token_use": "access",
    } | overrides
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture
def ed_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def ring(ed_key: Ed25519PrivateKey) -> KeyRing:
    keys = KeyRing()
    keys.publish("k1", ed_key)
    return keys


async def test_a_token_verified_once_is_answered_from_the_cache(
    ring: KeyRing, ed_key: Ed25519PrivateKey
) -> None:
    verifier = TokenVerifier(ring, issuer=ISSUER, audience=AUDIENCE)
    token = sign(ed_key)

    first, second = await verifier.verify(token), await verifier.verify(token)

    assert second is first, "the second check of the same token was not answered from the cache"


async def test_a_cache_size_of_zero_verifies_every_time(
    ring: KeyRing, ed_key: Ed25519PrivateKey
) -> None:
    verifier = TokenVerifier(ring, issuer=ISSUER, audience=AUDIENCE, cache_size=0)
    token = sign(ed_key)

    first, second = await verifier.verify(token), await verifier.verify(token)

    assert second == first
    assert second is not first, "cache_size=0 still answered from a cache"


async def test_the_cache_never_answers_at_or_past_exp(
    ring: KeyRing, ed_key: Ed25519PrivateKey
) -> None:
    exp = int(time.time()) + HOUR
    now = [exp - 1.0]
    verifier = TokenVerifier(ring, issuer=ISSUER, audience=AUDIENCE, clock=lambda: now[0])
    token = sign(ed_key, exp=exp)
    first = await verifier.verify(token)

    assert await verifier.verify(token) is first, "a second before exp the cache should answer"
    now[0] = float(exp)
    assert await verifier.verify(token) is not first, "the cache answered for a token at its exp"


async def test_a_cached_token_is_refused_once_it_expires(
    ring: KeyRing, ed_key: Ed25519PrivateKey
) -> None:
    verifier = TokenVerifier(ring, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=0)
    exp = int(time.time()) + 2
    token = sign(ed_key, exp=exp)
    await verifier.verify(token)  # now cached

    await asyncio.sleep(max(0.0, exp - time.time()) + 0.1)
    with pytest.raises(Unauthorized) as refused:
        await verifier.verify(token)

    assert refused.value.detail == "The token has expired."


async def test_a_cached_token_is_refused_once_its_key_is_withdrawn(
    ring: KeyRing, ed_key: Ed25519PrivateKey
) -> None:
    verifier = TokenVerifier(ring, issuer=ISSUER, audience=AUDIENCE)
    token = sign(ed_key)
    await verifier.verify(token)  # now cached

    del ring.keys["k1"]  # identity dropped a compromised key; the JWKS refresh saw it
    with pytest.raises(Unauthorized) as refused:
        await verifier.verify(token)

    assert refused.value.detail == "The token's signing key is unknown."


async def test_a_cached_token_is_refused_when_its_kid_names_another_key(
    ring: KeyRing, ed_key: Ed25519PrivateKey
) -> None:
    verifier = TokenVerifier(ring, issuer=ISSUER, audience=AUDIENCE)
    token = sign(ed_key)
    await verifier.verify(token)  # now cached

    ring.publish("k1", Ed25519PrivateKey.generate())  # same kid, another key (a refetch)
    with pytest.raises(Unauthorized) as refused:
        await verifier.verify(token)

    assert refused.value.detail == "The token's signature is invalid."


async def test_the_cache_is_bounded(ring: KeyRing, ed_key: Ed25519PrivateKey) -> None:
    verifier = TokenVerifier(ring, issuer=ISSUER, audience=AUDIENCE, cache_size=2)
    tokens = [sign(ed_key) for _ in range(3)]
    first = await verifier.verify(tokens[0])
    for token in tokens[1:]:
        await verifier.verify(token)

    assert await verifier.verify(tokens[0]) is not first, "a third token did not evict the first"
