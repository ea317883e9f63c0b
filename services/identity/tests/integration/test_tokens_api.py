"""POST /api/v1/auth/token, /refresh, /logout and GET /.well-known/jwks.json."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_chassis.state import service_state
from agora_identity.models import AuditEntry, RefreshToken
from agora_identity.schemas.auth import CLIENT_FIELD_MAX, SCOPE_MAX
from agora_identity.schemas.user import EMAIL_MAX, PASSWORD_MAX

pytestmark = pytest.mark.integration


async def _audit_events(session: AsyncSession) -> list[str]:
    rows = await session.scalars(select(AuditEntry.event).order_by(AuditEntry.created_at))
    return list(rows)


async def test_token_valid_credentials_returns_pair(register, login) -> None:
    await register()
    tokens = await login(email="ADA@example.com")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 1800
    assert tokens["access_token"].count(".") == 2
    assert tokens["refresh_token"]


async def test_token_wrong_password_returns_401_and_audits(
    register, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await register()
    response = await client.post(
        "/api/v1/auth/token", data={"username": "ada@example.com", "password": "Wrong-Pass-1"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Incorrect e-mail or password."
    assert (await _audit_events(session))[-1] == "login_failed"


async def test_token_unknown_email_returns_same_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": "nobody@example.com", "password": "Whatever-1"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Incorrect e-mail or password."


async def test_token_per_account_limit_returns_429_with_retry_after(
    register, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await register()
    form = {"username": "ada@example.com", "password": "Wrong-Pass-1"}
    statuses = [(await client.post("/api/v1/auth/token", data=form)).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    response = await client.post("/api/v1/auth/token", data=form)
    assert int(response.headers["Retry-After"]) >= 1
    assert "login_rate_limited" in await _audit_events(session)


async def test_token_per_ip_limit_returns_429(app: FastAPI, client: httpx.AsyncClient) -> None:
    service_state(app).settings = service_state(app).settings.model_copy(
        update={"login_limit_per_ip": "3/minute"}
    )
    forms = [{"username": f"user{n}@example.com", "password": "Wrong-Pass-1"} for n in range(4)]
    statuses = [(await client.post("/api/v1/auth/token", data=f)).status_code for f in forms]
    assert statuses == [401, 401, 401, 429]


async def test_token_success_resets_account_counter(register, login, client) -> None:
    await register()
    bad = {"username": "ada@example.com", "password": "Wrong-Pass-1"}
    for _ in range(4):
        await client.post("/api/v1/auth/token", data=bad)
    await login()
    statuses = [(await client.post("/api/v1/auth/token", data=bad)).status_code for _ in range(4)]
    assert statuses == [401] * 4


async def test_refresh_rotates_and_old_token_no_longer_works(register, login, client) -> None:
    await register()
    first = await login()
    response = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]


async def test_refresh_reused_token_revokes_whole_family(
    register, login, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await register()
    first = await login()
    rotated = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reuse.status_code == 401
    # The attacker's replay also kills the legitimate holder's newer token.
    legit = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert legit.status_code == 401
    revoked = await session.scalars(select(RefreshToken.revoked_at))
    assert all(value is not None for value in revoked)
    assert "refresh_reuse_detected" in await _audit_events(session)


async def test_refresh_unknown_token_returns_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert response.status_code == 401


async def test_logout_revokes_refresh_token(register, login, client, session) -> None:
    await register()
    tokens = await login()
    body = {"refresh_token": tokens["refresh_token"]}
    assert (await client.post("/api/v1/auth/logout", json=body)).status_code == 204
    assert (await client.post("/api/v1/auth/refresh", json=body)).status_code == 401
    assert "logged_out" in await _audit_events(session)


async def test_logout_unknown_token_returns_204(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/logout", json={"refresh_token": "made-up"})
    assert response.status_code == 204


async def test_jwks_publishes_public_ed25519_keys_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    assert all(key["kty"] == "OKP" and key["alg"] == "EdDSA" and "d" not in key for key in keys)


async def test_token_nul_in_username_returns_422_naming_username(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": "a\x00b@example.com", "password": "Whatever-1"}
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["username"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "a" * (EMAIL_MAX - len("@example.com") + 1) + "@example.com"),
        ("password", "Aa1" * PASSWORD_MAX),
        ("scope", "profile " * SCOPE_MAX),
        ("client_id", "c" * (CLIENT_FIELD_MAX + 1)),
        ("client_secret", "s" * (CLIENT_FIELD_MAX + 1)),
    ],
)
async def test_token_field_over_its_limit_returns_422_naming_it(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    form = {"username": "ada@example.com", "password": "Whatever-1", field: value}
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]
