"""The FastAPI guards: get_principal, require_roles, require_scopes and the refusal audit hook.

The JWKS comes from a tiny FastAPI identity app reached through ``httpx.ASGITransport``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, FastAPI, Request

from agora_chassis.auth import (
    CurrentPrincipal,
    JWKSCache,
    TokenVerifier,
    require_roles,
    require_scopes,
)
from agora_chassis.errors import install_error_handlers
from agora_chassis.state import service_state
from agora_testing.state import attach_test_state

ISSUER = "agora-identity"
AUDIENCE = "agora"
HOUR = 3600


def identity_app(key: Ed25519PrivateKey) -> FastAPI:
    jwk = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    app = FastAPI()

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, list[dict[str, Any]]]:
        return {"keys": [jwk | {"kid": "k1", "alg": "EdDSA", "use": "sig"}]}

    return app


def sign(key: Ed25519PrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + HOUR,
        "roles": ["customer"],
        "scope": "orders:read orders:write",
        "token_use": "access",
    } | overrides
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})


@pytest.fixture
def ed_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def verifier(ed_key: Ed25519PrivateKey) -> AsyncIterator[TokenVerifier]:
    transport = httpx.ASGITransport(app=identity_app(ed_key))
    async with httpx.AsyncClient(transport=transport, base_url="http://identity.test") as client:
        cache = JWKSCache("http://identity.test/.well-known/jwks.json", http_client=client)
        yield TokenVerifier(cache, issuer=ISSUER, audience=AUDIENCE)


def build_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    attach_test_state(app, verifier=verifier)

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/admin", dependencies=[Depends(require_roles("admin", "support"))])
    async def admin() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/orders", dependencies=[Depends(require_scopes("orders:read", "orders:write"))])
    async def orders() -> dict[str, bool]:
        return {"ok": True}

    return app


@pytest.fixture
async def api(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_get_principal_missing_header_401_problem_with_www_authenticate(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/me")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


async def test_get_principal_basic_scheme_401(api: httpx.AsyncClient) -> None:
    response = await api.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401


async def test_get_principal_valid_token_200(
    api: httpx.AsyncClient, ed_key: Ed25519PrivateKey
) -> None:
    response = await api.get("/me", headers=bearer(sign(ed_key, sub="user-1")))

    assert response.status_code == 200
    assert response.json() == {"subject": "user-1"}


async def test_get_principal_refusal_logged_without_token(
    api: httpx.AsyncClient, ed_key: Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    token = sign(ed_key, aud="elsewhere")

    with caplog.at_level(logging.WARNING, logger="agora_chassis.auth"):
        response = await api.get("/me", headers=bearer(token))

    assert response.status_code == 401
    assert "audience" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


async def test_get_principal_refusal_calls_audit_hook(
    verifier: TokenVerifier, ed_key: Ed25519PrivateKey
) -> None:
    app = build_app(verifier)
    seen: list[tuple[str, str]] = []

    async def on_refusal(reason: str, request: Request) -> None:
        seen.append((reason, request.url.path))

    service_state(app).on_auth_refusal = on_refusal
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.test") as client:
        await client.get("/me", headers=bearer(sign(ed_key, token_use="refresh")))

    assert seen == [("The token is not an access token.", "/me")]


async def test_require_roles_customer_on_admin_route_403(
    api: httpx.AsyncClient, ed_key: Ed25519PrivateKey
) -> None:
    response = await api.get("/admin", headers=bearer(sign(ed_key, roles=["customer"])))

    assert response.status_code == 403
    assert response.json()["title"] == "Forbidden"


async def test_require_roles_admin_200(api: httpx.AsyncClient, ed_key: Ed25519PrivateKey) -> None:
    response = await api.get("/admin", headers=bearer(sign(ed_key, roles=["admin", "customer"])))

    assert response.status_code == 200


async def test_require_roles_any_listed_role_200(
    api: httpx.AsyncClient, ed_key: Ed25519PrivateKey
) -> None:
    response = await api.get("/admin", headers=bearer(sign(ed_key, roles=["support"])))

    assert response.status_code == 200


async def test_require_roles_without_token_401(api: httpx.AsyncClient) -> None:
    response = await api.get("/admin")

    assert response.status_code == 401


async def test_require_scopes_one_missing_403(
    api: httpx.AsyncClient, ed_key: Ed25519PrivateKey
) -> None:
    response = await api.get("/orders", headers=bearer(sign(ed_key, scope="orders:read")))

    assert response.status_code == 403


async def test_require_scopes_all_granted_200(
    api: httpx.AsyncClient, ed_key: Ed25519PrivateKey
) -> None:
    response = await api.get("/orders", headers=bearer(sign(ed_key)))

    assert response.status_code == 200


def test_require_roles_and_scopes_without_arguments_raise() -> None:
    with pytest.raises(ValueError, match="role"):
        require_roles()
    with pytest.raises(ValueError, match="scope"):
        require_scopes()
