"""Forged, expired and tampered access tokens are refused with 401 by a real endpoint."""

import base64
import datetime as dt
import json
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_identity.api.deps import identity_state
from agora_identity.models import AuditEntry

pytestmark = pytest.mark.integration


def _claims(**overrides: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": "agora-identity",
        "aud": "agora",
        "sub": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + dt.timedelta(minutes=5),
        "roles": ["admin"],
        "scope": "admin",
        "token_use": "access",
    }
    return claims | overrides


def _signed(app: FastAPI, claims: dict[str, Any]) -> str:
    key = identity_state(app).keys.current
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()


async def _status(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def test_attack_properly_signed_token_is_accepted_control(client, app: FastAPI) -> None:
    assert await _status(client, _signed(app, _claims())) == 200


async def test_attack_expired_token_returns_401(client, app: FastAPI) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    token = _signed(app, _claims(iat=past, nbf=past, exp=past + dt.timedelta(minutes=1)))
    assert await _status(client, token) == 401


async def test_attack_wrong_audience_returns_401(client, app: FastAPI) -> None:
    assert await _status(client, _signed(app, _claims(aud="another-api"))) == 401


async def test_attack_wrong_issuer_returns_401(client, app: FastAPI) -> None:
    assert await _status(client, _signed(app, _claims(iss="evil-identity"))) == 401


async def test_attack_alg_none_returns_401(client, app: FastAPI) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": identity_state(app).keys.current.kid}
    token = f"{_b64(header)}.{_b64(_claims(exp=int(dt.datetime.now(dt.UTC).timestamp()) + 300))}."
    assert await _status(client, token) == 401


async def test_attack_foreign_key_with_real_kid_returns_401(client, app: FastAPI) -> None:
    forged = jwt.encode(
        _claims(),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": identity_state(app).keys.current.kid},
    )
    assert await _status(client, forged) == 401


async def test_attack_hs256_keyed_with_public_key_returns_401(client, app: FastAPI) -> None:
    current = identity_state(app).keys.current
    public = current.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    token = jwt.encode(_claims(), public, algorithm="HS256", headers={"kid": current.kid})
    assert await _status(client, token) == 401


async def test_attack_role_escalation_by_editing_claims_returns_401(
    client, customer_token: str
) -> None:
    header, payload, signature = customer_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin", "customer"]
    assert await _status(client, f"{header}.{_b64(claims)}.{signature}") == 401


async def test_attack_missing_token_use_returns_401(client, app: FastAPI) -> None:
    claims = _claims()
    del claims["token_use"]
    assert await _status(client, _signed(app, claims)) == 401


async def test_attack_garbage_bearer_returns_401(client) -> None:
    assert await _status(client, "not-a-jwt") == 401


async def test_attack_every_refusal_is_audited(
    client, app: FastAPI, customer_token: str, session: AsyncSession
) -> None:
    await _status(client, _signed(app, _claims(aud="another-api")))
    await _status(client, customer_token)  # a customer on an admin route: 403
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.event == "access_refused")
        .order_by(AuditEntry.created_at)
    )
    entries = list(rows)
    assert [entry.details["path"] for entry in entries] == ["/api/v1/users", "/api/v1/users"]
    assert all(entry.client_ip == "203.0.113.7" for entry in entries)
    assert all("." not in entry.details["reason"][:0] for entry in entries)
