"""``GET /api/v1/audit`` answers only what its OpenAPI operation declares, a 503 included."""

from typing import Any, ClassVar

import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, status
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import DeclarativeBase

from agora_chassis.app import create_service_app
from agora_chassis.audit import Actor, AuditMixin, Auditor, AuditRepository
from agora_chassis.audit_api import audit_router
from agora_chassis.db import TYPE_ANNOTATION_MAP, DbSession, make_metadata
from agora_chassis.settings import ServiceSettings
from agora_testing.tokens import StaticKeys, forge_access_token

UNREACHABLE_DATABASE = "postgresql+asyncpg://nobody:x@127.0.0.1:1/none"
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class AuditEntry(AuditMixin, Base):
    __tablename__ = "audit_log"


async def auditor(session: DbSession) -> Auditor:
    return Auditor(AuditRepository(session, AuditEntry), Actor.of(None))


def _app(key: Ed25519PrivateKey) -> FastAPI:
    settings = ServiceSettings.model_validate(
        {"service_name": "demo", "database_url": UNREACHABLE_DATABASE, "debug": True}
    )
    return create_service_app(
        settings, title="demo", routers=[audit_router(auditor)], keys=StaticKeys(key)
    )


def test_audit_route_database_down_answers_a_documented_503() -> None:
    key = Ed25519PrivateKey.generate()
    headers = {"Authorization": f"Bearer {forge_access_token(key, roles=['admin'])}"}
    operation = schemathesis.openapi.from_asgi("/openapi.json", _app(key))["/api/v1/audit"]["GET"]

    response = operation.Case(headers=headers).call_and_validate(checks=CHECKS)

    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert "retry-after" in response.headers


def test_audit_route_without_admin_role_answers_a_documented_403() -> None:
    key = Ed25519PrivateKey.generate()
    headers = {"Authorization": f"Bearer {forge_access_token(key, roles=['customer'])}"}
    operation = schemathesis.openapi.from_asgi("/openapi.json", _app(key))["/api/v1/audit"]["GET"]

    response = operation.Case(headers=headers).call_and_validate(checks=CHECKS)

    assert response.status_code == status.HTTP_403_FORBIDDEN
