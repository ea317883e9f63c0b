"""GET /api/v1/users/me, admin GET /api/v1/users and PATCH /api/v1/users/{id}."""

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_chassis.pagination import MAX_PAGE_DEPTH
from agora_identity.models import AuditEntry
from agora_identity.schemas.user import EMAIL_MAX, MAX_ROLES

pytestmark = pytest.mark.integration


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_me_with_token_returns_own_account(client, customer_token: str) -> None:
    response = await client.get("/api/v1/users/me", headers=_bearer(customer_token))
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


async def test_me_without_token_returns_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_list_users_as_customer_returns_403(client, customer_token: str) -> None:
    response = await client.get("/api/v1/users", headers=_bearer(customer_token))
    assert response.status_code == 403


async def test_list_users_as_admin_returns_pagination_envelope(
    client, register, admin_token: str
) -> None:
    for n in range(3):
        await register(email=f"user{n}@example.com")
    response = await client.get(
        "/api/v1/users", params={"per_page": 2, "page": 2}, headers=_bearer(admin_token)
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["per_page"], body["total_pages"]) == (4, 2, 2, 2)
    assert len(body["data"]) == 2


async def test_list_users_filters_by_email_role_and_active(
    client, register, admin_token: str
) -> None:
    await register(email="grace@example.com")
    await register(email="alan@example.com")
    headers = _bearer(admin_token)
    by_email = await client.get("/api/v1/users", params={"email": "GRACE"}, headers=headers)
    by_role = await client.get("/api/v1/users", params={"role": "admin"}, headers=headers)
    inactive = await client.get("/api/v1/users", params={"is_active": False}, headers=headers)
    assert [u["email"] for u in by_email.json()["data"]] == ["grace@example.com"]
    assert [u["email"] for u in by_role.json()["data"]] == ["admin@agora.local"]
    assert inactive.json()["total"] == 0


async def test_list_users_per_page_over_max_returns_422(client, admin_token: str) -> None:
    response = await client.get(
        "/api/v1/users", params={"per_page": 101}, headers=_bearer(admin_token)
    )
    assert response.status_code == 422


async def test_patch_user_roles_as_admin_changes_and_audits(
    client, register, admin_token: str, session: AsyncSession
) -> None:
    user_id = (await register()).json()["id"]
    response = await client.patch(
        f"/api/v1/users/{user_id}",
        json={"roles": ["customer", "admin"]},
        headers=_bearer(admin_token),
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["admin", "customer"]
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.event == "roles_changed"))
    assert entry is not None
    assert entry.details == {"before": ["customer"], "after": ["admin", "customer"]}
    assert entry.actor_id is not None


async def test_patch_user_as_customer_returns_403(client, customer_token: str) -> None:
    me = (await client.get("/api/v1/users/me", headers=_bearer(customer_token))).json()
    response = await client.patch(
        f"/api/v1/users/{me['id']}", json={"roles": ["admin"]}, headers=_bearer(customer_token)
    )
    assert response.status_code == 403


async def test_patch_unknown_user_returns_404(client, admin_token: str) -> None:
    response = await client.patch(
        f"/api/v1/users/{uuid.uuid4()}", json={"is_active": False}, headers=_bearer(admin_token)
    )
    assert response.status_code == 404


async def test_patch_own_admin_role_away_returns_409(client, admin_token: str) -> None:
    me = (await client.get("/api/v1/users/me", headers=_bearer(admin_token))).json()
    response = await client.patch(
        f"/api/v1/users/{me['id']}", json={"roles": ["customer"]}, headers=_bearer(admin_token)
    )
    assert response.status_code == 409


async def test_deactivated_user_cannot_log_in_or_refresh(
    client, register, login, admin_token: str
) -> None:
    user_id = (await register()).json()["id"]
    tokens = await login()
    await client.patch(
        f"/api/v1/users/{user_id}", json={"is_active": False}, headers=_bearer(admin_token)
    )
    refused_login = await client.post(
        "/api/v1/auth/token", data={"username": "ada@example.com", "password": "Correct-Horse-9"}
    )
    refused_refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert (refused_login.status_code, refused_refresh.status_code) == (401, 401)


async def test_deactivation_after_the_access_token_was_cached_still_refuses_refresh(
    client, register, login, admin_token: str
) -> None:
    """The verified-token cache (ADR 0012) changes no revocation rule: access tokens stay valid
    until ``exp`` as before (ADR 0003), the profile is read fresh, and the refresh is refused."""
    user_id = (await register()).json()["id"]
    tokens = await login()
    headers = _bearer(tokens["access_token"])
    assert (await client.get("/api/v1/users/me", headers=headers)).json()["is_active"] is True

    await client.patch(
        f"/api/v1/users/{user_id}", json={"is_active": False}, headers=_bearer(admin_token)
    )
    me = await client.get("/api/v1/users/me", headers=headers)
    refused_refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )

    assert (me.status_code, me.json()["is_active"]) == (200, False), me.text
    assert refused_refresh.status_code == 401, "a deactivated user's refresh was accepted"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"email": "a\x00b"}, "query.email"),
        ({"email": "a" * (EMAIL_MAX + 1)}, "query.email"),
        ({"page": MAX_PAGE_DEPTH}, "query.page"),  # with the default 20 a page: too deep
    ],
)
async def test_list_users_unbounded_query_returns_422_naming_it(
    client: httpx.AsyncClient, admin_token: str, params: dict[str, object], field: str
) -> None:
    response = await client.get("/api/v1/users", params=params, headers=_bearer(admin_token))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_update_user_more_roles_than_exist_returns_422_naming_roles(
    client: httpx.AsyncClient, register, admin_token: str
) -> None:
    user = (await register(email="roles@example.com")).json()
    response = await client.patch(
        f"/api/v1/users/{user['id']}",
        json={"roles": ["customer"] * (MAX_ROLES + 1)},
        headers=_bearer(admin_token),
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["roles"]
