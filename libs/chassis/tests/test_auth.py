"""Access-token verification and the JWKS cache: every refusal proven on its own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key

from agora_chassis.auth import (
    JWKSCache,
    Principal,
    TokenVerifier,
    UnknownKeyError,
)
from agora_chassis.errors import ServiceUnavailable, Unauthorized

JWKS_URL = "http://identity.test/.well-known/jwks.json"
ISSUER = "agora-identity"
AUDIENCE = "agora"
HOUR = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value).encode())


class FakeIdentity:
    """Serves a JWKS over httpx.MockTransport; counts fetches and can go down."""

    def __init__(self) -> None:
        self.jwks: list[Any] = []
        self.fetches = 0
        self.up = True

    def publish(self, kid: str, key: Ed25519PrivateKey | RSAPrivateKey) -> None:
        if isinstance(key, RSAPrivateKey):
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwk |= {"alg": "RS256"}
        else:
            jwk = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwk |= {"alg": "EdDSA"}
        self.jwks.append(jwk | {"kid": kid, "use": "sig"})

    async def handle(self, _request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        await asyncio.sleep(0.01)  # lets concurrent callers overlap
        if not self.up:
            return httpx.Response(503)
        return httpx.Response(200, json={"keys": self.jwks})

    def cache(self, **options: float) -> JWKSCache:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return JWKSCache(JWKS_URL, http_client=client, **options)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + HOUR,
        "jti": str(uuid.uuid4()),
        "roles": ["customer"],
        "scope": "orders:read orders:write",
        "token_use": "access",
    }
    return {key: value for key, value in (base | overrides).items() if value is not None}


def sign(key: Ed25519PrivateKey | RSAPrivateKey, kid: str = "k1", **overrides: Any) -> str:
    algorithm = "RS256" if isinstance(key, RSAPrivateKey) else "EdDSA"
    return jwt.encode(claims(**overrides), key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
def ed_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def identity(ed_key: Ed25519PrivateKey) -> FakeIdentity:
    fake = FakeIdentity()
    fake.publish("k1", ed_key)
    return fake


@pytest.fixture
async def jwks(identity: FakeIdentity) -> AsyncIterator[JWKSCache]:
    cache = identity.cache(min_refresh_interval=0)
    yield cache
    await cache.aclose()


@pytest.fixture
def verifier(jwks: JWKSCache) -> TokenVerifier:
    return TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE)


async def refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(token)
    assert caught.value.status == 401
    assert token not in caught.value.detail or not token
    return caught.value.detail


# --- valid tokens -------------------------------------------------------------------------------


async def test_verify_valid_token_returns_principal(
    verifier: TokenVerifier, ed_key: Ed25519PrivateKey
) -> None:
    subject = str(uuid.uuid4())
    token = sign(ed_key, sub=subject, roles=["admin", "customer"])

    principal = await verifier.verify(token)

    assert principal.subject == subject
    assert principal.roles == frozenset({"admin", "customer"})
    assert principal.scopes == frozenset({"orders:read", "orders:write"})
    assert principal.claims["iss"] == ISSUER


async def test_verify_without_roles_and_scope_returns_empty_sets(
    verifier: TokenVerifier, ed_key: Ed25519PrivateKey
) -> None:
    principal = await verifier.verify(sign(ed_key, roles=None, scope=None))

    assert principal.roles == frozenset()
    assert principal.scopes == frozenset()


def test_principal_role_and_scope_checks_follow_any_and_all_semantics() -> None:
    principal = Principal("u1", frozenset({"customer"}), frozenset({"a", "b"}), {})

    assert principal.has_role("customer")
    assert not principal.has_role("admin")
    assert principal.has_any_role("admin", "customer")
    assert principal.has_scopes("a", "b")
    assert not principal.has_scopes("a", "c")


# --- refusals -----------------------------------------------------------------------------------


async def test_verify_expired_token_401(verifier: TokenVerifier, ed_key: Ed25519PrivateKey) -> None:
    token = sign(ed_key, iat=int(time.time()) - 2 * HOUR, exp=int(time.time()) - HOUR)

    assert "expired" in await refusal(verifier, token)


async def test_verify_nbf_in_future_401(verifier: TokenVerifier, ed_key: Ed25519PrivateKey) -> None:
    token = sign(ed_key, nbf=int(time.time()) + HOUR)

    assert "not valid yet" in await refusal(verifier, token)


async def test_verify_signed_by_other_key_with_same_kid_401(verifier: TokenVerifier) -> None:
    token = sign(Ed25519PrivateKey.generate(), kid="k1")

    assert "signature" in await refusal(verifier, token)


async def test_verify_alg_none_401_without_fetching_keys(
    verifier: TokenVerifier, identity: FakeIdentity
) -> None:
    token = f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{_segment(claims())}."

    assert "algorithm" in await refusal(verifier, token)
    assert identity.fetches == 0


async def test_verify_hs256_signed_with_public_key_401(
    verifier: TokenVerifier, identity: FakeIdentity, ed_key: Ed25519PrivateKey
) -> None:
    public_pem = ed_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_segment({'alg': 'HS256', 'kid': 'k1'})}.{_segment(claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    assert "algorithm" in await refusal(verifier, f"{signing_input}.{_b64(mac)}")
    assert identity.fetches == 0


async def test_verify_rs256_when_only_eddsa_allowed_401(
    verifier: TokenVerifier, identity: FakeIdentity
) -> None:
    rsa_key = generate_private_key(public_exponent=65537, key_size=2048)
    identity.publish("rsa1", rsa_key)

    assert "algorithm" in await refusal(verifier, sign(rsa_key, kid="rsa1"))


async def test_verify_alg_not_matching_the_kid_key_type_401(
    jwks: JWKSCache, ed_key: Ed25519PrivateKey
) -> None:
    both = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, algorithms=("EdDSA", "RS256"))
    rsa_key = generate_private_key(public_exponent=65537, key_size=2048)
    await both.verify(sign(ed_key))  # primes the cache

    assert "algorithm" in await refusal(both, sign(rsa_key, kid="k1"))


async def test_verify_wrong_audience_401(
    verifier: TokenVerifier, ed_key: Ed25519PrivateKey
) -> None:
    assert "audience" in await refusal(verifier, sign(ed_key, aud="another-shop"))


async def test_verify_wrong_issuer_401(verifier: TokenVerifier, ed_key: Ed25519PrivateKey) -> None:
    assert "issuer" in await refusal(verifier, sign(ed_key, iss="evil-identity"))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud"])
async def test_verify_missing_required_claim_401(
    verifier: TokenVerifier, ed_key: Ed25519PrivateKey, claim: str
) -> None:
    token = jwt.encode(claims(**{claim: None}), ed_key, algorithm="EdDSA", headers={"kid": "k1"})

    assert f"'{claim}'" in await refusal(verifier, token)


async def test_verify_refresh_token_used_as_access_token_401(
    verifier: TokenVerifier, ed_key: Ed25519PrivateKey
) -> None:
    assert "not an access token" in await refusal(verifier, sign(ed_key, token_use="refresh"))


async def test_verify_token_without_token_use_401(
    verifier: TokenVerifier, ed_key: Ed25519PrivateKey
) -> None:
    assert "token_use" in await refusal(verifier, sign(ed_key, token_use=None))


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"roles": "admin"}, "roles"),
        ({"roles": ["admin", 1]}, "roles"),
        ({"scope": ["orders:read"]}, "scope"),
        ({"sub": ""}, "subject"),
    ],
)
async def test_verify_ill_typed_claim_401(
    verifier: TokenVerifier, ed_key: Ed25519PrivateKey, overrides: dict[str, Any], named: str
) -> None:
    assert named in await refusal(verifier, sign(ed_key, **overrides))


async def test_verify_missing_kid_401(verifier: TokenVerifier, ed_key: Ed25519PrivateKey) -> None:
    token = jwt.encode(claims(), ed_key, algorithm="EdDSA")

    assert "signing key" in await refusal(verifier, token)


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "a.b", "eyJhbGciOiJFZERTQSJ9..", "x" * 100_000]
)
async def test_verify_malformed_token_401(verifier: TokenVerifier, token: str) -> None:
    assert await refusal(verifier, token)


async def test_token_verifier_symmetric_algorithm_allowed_raises() -> None:
    cache = JWKSCache(JWKS_URL)

    with pytest.raises(ValueError, match="algorithms"):
        TokenVerifier(cache, issuer=ISSUER, audience=AUDIENCE, algorithms=("EdDSA", "HS256"))
    await cache.aclose()


# --- JWKS cache: rotation, rate limiting, outages -----------------------------------------------


async def test_verify_unknown_kid_refreshes_once_then_401(
    verifier: TokenVerifier, identity: FakeIdentity, ed_key: Ed25519PrivateKey
) -> None:
    await verifier.verify(sign(ed_key))
    assert identity.fetches == 1

    assert "unknown" in await refusal(verifier, sign(ed_key, kid="nobody"))
    assert identity.fetches == 2


async def test_verify_rotated_key_accepted_after_refresh(
    verifier: TokenVerifier, identity: FakeIdentity, ed_key: Ed25519PrivateKey
) -> None:
    await verifier.verify(sign(ed_key))
    new_key = Ed25519PrivateKey.generate()
    identity.publish("k2", new_key)

    principal = await verifier.verify(sign(new_key, kid="k2", sub="rotated"))

    assert principal.subject == "rotated"
    assert identity.fetches == 2


async def test_jwks_cache_unknown_kids_within_min_interval_fetch_no_more(
    identity: FakeIdentity,
) -> None:
    cache = identity.cache(min_refresh_interval=60)
    await cache.get_key("k1")

    for attempt in range(5):
        with pytest.raises(UnknownKeyError):
            await cache.get_key(f"forged-{attempt}")

    assert identity.fetches == 1
    await cache.aclose()


async def test_jwks_cache_concurrent_cold_lookups_fetch_once(identity: FakeIdentity) -> None:
    cache = identity.cache(min_refresh_interval=0)

    keys = await asyncio.gather(*(cache.get_key("k1") for _ in range(10)))

    assert {key.key_id for key in keys} == {"k1"}
    assert identity.fetches == 1
    await cache.aclose()


async def test_verify_jwks_down_with_cached_keys_still_verifies(
    identity: FakeIdentity, ed_key: Ed25519PrivateKey
) -> None:
    cache = identity.cache(ttl_seconds=0, min_refresh_interval=0)
    verifier = TokenVerifier(cache, issuer=ISSUER, audience=AUDIENCE)
    await verifier.verify(sign(ed_key))
    identity.up = False

    principal = await verifier.verify(sign(ed_key, sub="still-here"))

    assert principal.subject == "still-here"
    assert identity.fetches == 1  # a known kid never makes a request fetch, even past the TTL
    await cache.aclose()


async def test_verify_jwks_down_without_cached_keys_503(
    verifier: TokenVerifier, identity: FakeIdentity, ed_key: Ed25519PrivateKey
) -> None:
    identity.up = False

    with pytest.raises(ServiceUnavailable):
        await verifier.verify(sign(ed_key))


async def test_jwks_cache_skips_symmetric_and_encryption_keys(identity: FakeIdentity) -> None:
    secret = _b64(b"s" * 32)
    identity.jwks += [
        {"kty": "oct", "k": secret, "kid": "hmac"},
        identity.jwks[0] | {"kid": "enc", "use": "enc"},
        {"kty": "OKP", "crv": "Ed448", "x": "AAAA", "kid": "bad"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
        "not-a-key",
    ]
    cache = identity.cache()

    assert (await cache.get_key("k1")).algorithm_name == "EdDSA"
    for kid in ("hmac", "enc", "bad"):
        with pytest.raises(UnknownKeyError):
            await cache.get_key(kid)
    await cache.aclose()


async def test_verify_jwks_not_a_key_set_without_cached_keys_503(
    identity: FakeIdentity, ed_key: Ed25519PrivateKey
) -> None:
    async def garbage(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=["not", "a", "key", "set"])

    client = httpx.AsyncClient(transport=httpx.MockTransport(garbage))
    verifier = TokenVerifier(
        JWKSCache(JWKS_URL, http_client=client), issuer=ISSUER, audience=AUDIENCE
    )

    with pytest.raises(ServiceUnavailable):
        await verifier.verify(sign(ed_key))
    await client.aclose()
