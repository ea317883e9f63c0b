"""POST /api/v1/auth/register."""

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_contracts.identity import UserRegisteredV1
from agora_identity.models import AuditEntry, OutboxMessage, User

pytestmark = pytest.mark.integration


async def test_register_valid_user_returns_201_without_secrets(register) -> None:
    response = await register(email="  Ada@Example.COM")
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["roles"] == ["customer"]
    assert body["is_active"] is True
    assert not {"password", "password_hash"} & body.keys()


async def test_register_writes_user_registered_event_to_outbox(
    register, session: AsyncSession
) -> None:
    user_id = (await register()).json()["id"]
    message = await session.scalar(select(OutboxMessage))
    assert message is not None
    assert message.event_type == "user.registered"
    assert message.subject == user_id
    assert message.published_at is None
    payload = UserRegisteredV1.model_validate(message.envelope["data"])
    assert str(payload.user_id) == user_id
    assert message.envelope["dataschema"] == UserRegisteredV1.schema_uri()


async def test_register_stores_argon2_hash_and_audits(register, session: AsyncSession) -> None:
    await register()
    user = await session.scalar(select(User))
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    events = (await session.scalars(select(AuditEntry.event))).all()
    assert events == ["registered"]


async def test_register_same_email_other_case_returns_409(register) -> None:
    await register(email="ada@example.com")
    response = await register(email="ADA@example.com")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "E-mail already registered"


async def test_register_weak_password_returns_422_with_field_errors(register) -> None:
    response = await register(password="password")
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == ["password"]
    assert "upper-case" in errors[0]["message"]


async def test_register_unknown_field_returns_422(client: httpx.AsyncClient) -> None:
    body = {"email": "a@example.com", "password": "Correct-Horse-9", "full_name": "A"}
    response = await client.post("/api/v1/auth/register", json=body | {"roles": ["admin"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "roles"


async def test_register_malformed_json_returns_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        content=b'{"email": "a@example.com",',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["title"] == "Malformed JSON"


async def test_register_wrong_content_type_returns_4xx_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register", content=b"email=a", headers={"Content-Type": "text/plain"}
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


async def test_register_oversize_body_returns_413(client: httpx.AsyncClient) -> None:
    body = {"email": "a@example.com", "password": "Correct-Horse-9", "full_name": "A" * 2_000_000}
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_register_nul_in_name_returns_422_not_500(register) -> None:
    response = await register(full_name="A\x00B")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "full_name"
