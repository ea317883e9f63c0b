"""Scopes: a refresh keeps the scopes granted at login; admin writes need a scope and the role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import jwt
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from agora_identity.models import RefreshToken
from agora_identity.repositories.users import UserRepository
from agora_identity.services.bootstrap import ensure_admin

pytestmark = pytest.mark.integration

PASSWORD = "Correct-Horse-9"  # the conftest's ``register`` default
ADMIN_EMAIL = "admin@agora.local"
ADMIN_PASSWORD = "Admin123!"
Register = Callable[..., Awaitable[httpx.Response]]


def scopes_of(access_token: str) -> list[str]:
    # The signature is checked by every service; here only the granted claim matters.
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return sorted(claims["scope"].split())


async def token(
    client: httpx.AsyncClient, email: str, password: str, scope: str = ""
) -> dict[str, str]:
    form = {"username": email, "password": password, "scope": scope}
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def refreshed(client: httpx.AsyncClient, refresh_token: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_refresh_after_narrow_login_keeps_the_narrow_scopes(
    client: httpx.AsyncClient, register: Register
) -> None:
    await register("ada@example.com")
    login = await token(client, "ada@example.com", PASSWORD, scope="profile")

    first = await refreshed(client, login["refresh_token"])
    second = await refreshed(client, first["refresh_token"])

    assert scopes_of(login["access_token"]) == ["profile"]
    assert scopes_of(first["access_token"]) == ["profile"]
    assert scopes_of(second["access_token"]) == ["profile"]


async def test_refresh_of_token_stored_before_scopes_gets_the_role_scopes(
    client: httpx.AsyncClient, register: Register, session: AsyncSession
) -> None:
    await register("ada@example.com")
    login = await token(client, "ada@example.com", PASSWORD, scope="profile")
    async with session.begin():
        await session.execute(update(RefreshToken).values(scopes=None))

    renewed = await refreshed(client, login["refresh_token"])

    assert scopes_of(renewed["access_token"]) == ["basket", "orders", "profile"]


async def test_refresh_after_gaining_admin_role_does_not_widen_scopes(
    client: httpx.AsyncClient, register: Register, session: AsyncSession
) -> None:
    async with session.begin():
        await ensure_admin(UserRepository(session), ADMIN_EMAIL, ADMIN_PASSWORD)
    admin = await token(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    await register("ada@example.com")
    ada = await token(client, "ada@example.com", PASSWORD, scope="profile orders")
    bearer = {"Authorization": f"Bearer {admin['access_token']}"}
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {ada['access_token']}"}
    )
    promoted = await client.patch(
        f"/api/v1/users/{me.json()['id']}", json={"roles": ["admin"]}, headers=bearer
    )

    renewed = await refreshed(client, ada["refresh_token"])

    assert promoted.status_code == 200, promoted.text
    assert scopes_of(renewed["access_token"]) == ["profile"]  # never widened to admin scopes


async def admin_patch(client: httpx.AsyncClient, session: AsyncSession, scope: str) -> int:
    async with session.begin():
        await ensure_admin(UserRepository(session), ADMIN_EMAIL, ADMIN_PASSWORD)
    admin = await token(client, ADMIN_EMAIL, ADMIN_PASSWORD, scope=scope)
    bearer = {"Authorization": f"Bearer {admin['access_token']}"}
    users = await client.get("/api/v1/users", params={"email": "ada@"}, headers=bearer)
    user_id = users.json()["data"][0]["id"]
    response = await client.patch(
        f"/api/v1/users/{user_id}", json={"is_active": False}, headers=bearer
    )
    return response.status_code


async def test_patch_user_admin_without_users_write_scope_returns_403(
    client: httpx.AsyncClient, register: Register, session: AsyncSession
) -> None:
    await register("ada@example.com")

    assert await admin_patch(client, session, scope="admin profile") == 403


async def test_patch_user_admin_with_users_write_scope_returns_200(
    client: httpx.AsyncClient, register: Register, session: AsyncSession
) -> None:
    await register("ada@example.com")

    assert await admin_patch(client, session, scope="admin users:write") == 200


async def test_token_admin_asking_no_scope_gets_every_admin_scope(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    async with session.begin():
        await ensure_admin(UserRepository(session), ADMIN_EMAIL, ADMIN_PASSWORD)

    admin = await token(client, ADMIN_EMAIL, ADMIN_PASSWORD)

    assert {"admin", "catalog:write", "users:write"} <= set(scopes_of(admin["access_token"]))
