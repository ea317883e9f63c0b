"""POST /api/v1/auth/service-token: the client-credentials grant, and where its tokens are valid."""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_chassis.auth import SERVICE_TOKEN_USE, TokenVerifier
from agora_chassis.state import service_state
from agora_identity.api.deps import identity_settings, identity_state
from agora_identity.main import create_app
from agora_identity.models import AuditEntry
from agora_identity.services.keys import LocalKeySource
from agora_identity.services.service_tokens import secret_digest
from agora_identity.settings import IdentitySettings, ServiceClient

pytestmark = pytest.mark.integration

URL = "/api/v1/auth/service-token"
SECRET = "basket-secret-" + "x" * 32
ROTATED_SECRET = "basket-rotated-" + "y" * 32
GRANT = {"grant_type": "client_credentials"}
FORM = "application/x-www-form-urlencoded"
UNREACHABLE_DATABASE = "postgresql+asyncpg://nobody:x@127.0.0.1:1/none"
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def registered(app: FastAPI, client: httpx.AsyncClient) -> Iterator[None]:
    """Client ``basket`` registered with two secrets (mid-rotation) and two scopes."""
    settings = identity_settings(app)
    basket = ServiceClient(
        secret_sha256=[secret_digest(SECRET), secret_digest(ROTATED_SECRET)],
        scopes=["catalog:read", "catalog:reserve"],
    )
    service_state(app).settings = settings.model_copy(
        update={"service_clients": {"basket": basket}}
    )
    yield
    service_state(app).settings = settings


async def _audit(session: AsyncSession) -> list[tuple[str, dict[str, object]]]:
    rows = await session.execute(
        select(AuditEntry.event, AuditEntry.details).order_by(AuditEntry.created_at)
    )
    return [(event, dict(details)) for event, details in rows]


def _verifier(app: FastAPI) -> TokenVerifier:
    return TokenVerifier(
        LocalKeySource(identity_state(app).keys),
        issuer="agora-identity",
        audience="agora",
        token_use=SERVICE_TOKEN_USE,
    )


async def test_service_token_basic_credentials_issue_a_verifiable_service_token(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, registered: None
) -> None:
    response = await client.post(URL, data=GRANT, auth=("basket", SECRET))

    assert response.status_code == 200, response.text
    body = response.json()
    principal = await _verifier(app).verify(body["access_token"])
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "bearer",
        300,
        "catalog:read catalog:reserve",
    )
    assert "refresh_token" not in body
    assert principal.subject == "service:basket"
    assert principal.scopes == {"catalog:read", "catalog:reserve"}
    assert (await _audit(session))[-1] == (
        "service_token_issued",
        {"client_id": "basket", "scope": "catalog:read catalog:reserve"},
    )


async def test_service_token_form_credentials_and_narrowed_scope_are_accepted(
    client: httpx.AsyncClient, registered: None
) -> None:
    form = GRANT | {"client_id": "basket", "client_secret": ROTATED_SECRET, "scope": "catalog:read"}

    response = await client.post(URL, data=form)

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "catalog:read"


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("basket", "wrong-" + "z" * 40), ("nobody", SECRET), ("basket", SECRET[:20])],
    ids=["wrong-secret", "unknown-client", "short-secret"],
)
async def test_service_token_bad_credentials_return_401_and_audit(
    client: httpx.AsyncClient,
    session: AsyncSession,
    registered: None,
    client_id: str,
    secret: str,
) -> None:
    response = await client.post(URL, data=GRANT, auth=(client_id, secret))

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await _audit(session))[-1] == (
        "service_token_refused",
        {"client_id": client_id, "reason": "invalid client credentials"},
    )


async def test_service_token_unregistered_scope_returns_400_and_audits(
    client: httpx.AsyncClient, session: AsyncSession, registered: None
) -> None:
    response = await client.post(
        URL, data=GRANT | {"scope": "catalog:read admin"}, auth=("basket", SECRET)
    )

    assert response.status_code == 400
    assert (await _audit(session))[-1][0] == "service_token_refused"


async def test_service_token_other_grant_type_returns_422(
    client: httpx.AsyncClient, registered: None
) -> None:
    response = await client.post(URL, data={"grant_type": "password"}, auth=("basket", SECRET))

    assert response.status_code == 422


async def test_service_token_is_refused_by_user_routes(
    client: httpx.AsyncClient, registered: None
) -> None:
    token = (await client.post(URL, data=GRANT, auth=("basket", SECRET))).json()["access_token"]

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401


def test_service_token_database_down_answers_a_documented_503(tmp_path: Path) -> None:
    # The grant is audited (issued or refused) in the database, so an outage is a 503 the
    # document declares, with the Problem Details schema and Retry-After.
    app = create_app(
        IdentitySettings(
            environment="test",
            debug=True,  # serves /openapi.json
            database_url=UNREACHABLE_DATABASE,
            jwt_keys_dir=tmp_path,
        )
    )
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[URL]["POST"]
    form = GRANT | {"client_id": "basket", "client_secret": SECRET}

    response = operation.Case(body=form, media_type=FORM).call_and_validate(checks=CHECKS)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "retry-after" in response.headers
